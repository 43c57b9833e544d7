#pragma once
// A fresh directory under $TMPDIR (mkdtemp) that is removed, with everything
// in it, when the object goes away. Tests never write outside one of these.

#include <string>

namespace tether::testkit {

class temp_dir {
public:
    explicit temp_dir(const std::string& prefix = "tether-itest-");
    ~temp_dir();
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;

    const std::string& path() const { return path_; }

private:
    std::string path_;
};

} // namespace tether::testkit
