#include "torch_fixtures/fixtures.hpp"

#include <torch/script.h>

#include <fstream>
#include <stdexcept>

namespace tether::torch_fixtures {

std::string save_model(const std::string& dir, const std::string& name, const std::string& source,
                       const std::string& sidecar) {
    torch::jit::Module m("fixture");
    m.define(source);
    const std::string pt = dir + "/" + name + ".pt";
    m.save(pt);
    std::ofstream json(dir + "/" + name + ".json", std::ios::binary);
    json << sidecar;
    if (!json) throw std::runtime_error("cannot write the sidecar of " + name);
    return pt;
}

std::string next_byte_lm(const std::string& dir, const std::string& name, int context) {
    return save_model(dir, name, R"(
def forward(self, x: Tensor) -> Tensor:
    nxt = torch.remainder(x + 1, 256)
    return torch.eye(256)[nxt] * 1000.0
)",
                      R"({"name":")" + name + R"(","task":"text-generation","input":{"context":)" +
                          std::to_string(context) +
                          R"(},"output":{"vocab":256},"generation":{"max_tokens":8,"temperature":0.8,"top_k":40},
                             "limits":{"max_prompt_bytes":64,"max_tokens":600}})");
}

std::string ab_text_classifier(const std::string& dir, const std::string& name) {
    return save_model(dir, name, R"(
def forward(self, x: Tensor) -> Tensor:
    a = (x == 97).sum(dim=1).float()
    b = (x == 98).sum(dim=1).float()
    n = torch.full_like(a, 0.5)
    return torch.stack([a, b, n], dim=1) * 3.0
)",
                      R"({"name":")" + name + R"(","task":"classification","input":{"kind":"text","length":16},
                             "output":{"labels":["a","b","neither"],"top":3}})");
}

std::string loudness_classifier(const std::string& dir, const std::string& name) {
    return save_model(dir, name, R"(
def forward(self, x: Tensor) -> Tensor:
    m = x.abs().mean(dim=1)
    return torch.stack([m - 0.25, 0.25 - m], dim=1) * 100.0
)",
                      R"({"name":")" + name + R"(","task":"classification",
                             "input":{"kind":"audio","sample_rate":8000,"samples":800},
                             "output":{"labels":["loud","quiet"]}})");
}

std::string colour_classifier(const std::string& dir, const std::string& name) {
    return save_model(dir, name, R"(
def forward(self, x: Tensor) -> Tensor:
    return x.mean(dim=[2, 3]) * 50.0
)",
                      R"({"name":")" + name + R"(","task":"classification",
                             "input":{"kind":"image","width":8,"height":8},
                             "output":{"labels":["red","green","blue"],"top":2},"limits":{"max_pixels":1000000}})");
}

std::string half_gain(const std::string& dir, const std::string& name) {
    return save_model(dir, name, R"(
def forward(self, x: Tensor) -> Tensor:
    return x * 0.5
)",
                      R"({"name":")" + name + R"(","task":"audio","input":{"sample_rate":8000},
                             "output":{"sample_rate":8000},"limits":{"max_seconds":2}})");
}

std::string invert_upscale(const std::string& dir, const std::string& name) {
    return save_model(dir, name, R"(
def forward(self, x: Tensor) -> Tensor:
    return (1.0 - x).repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
)",
                      R"({"name":")" + name + R"(","task":"image","input":{"channels":3},"output":{"scale":2},
                             "limits":{"max_width":64,"max_height":48}})");
}

std::string sum_max(const std::string& dir, const std::string& name) {
    return save_model(dir, name, R"(
def forward(self, x: Tensor) -> Tensor:
    return torch.stack([x.sum(dim=1), x.amax(dim=1)], dim=1)
)",
                      R"({"name":")" + name + R"(","task":"tensor","input":{"shape":[-1],"dtype":"float32"},
                             "output":{"shape":[2]},"limits":{"max_elements":1000}})");
}

} // namespace tether::torch_fixtures
