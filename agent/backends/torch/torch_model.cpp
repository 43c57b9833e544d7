#include "backends/torch/torch_model.hpp"

#include "tether/shared/log.hpp"

#include <torch/cuda.h>

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace tether::agent {

namespace {

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return {};
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string declared_text(std::int64_t batch, const std::vector<std::int64_t>& dims) {
    std::string s = fmt::format("[{}", batch);
    for (auto d : dims)
        s += d < 0 ? ", any" : fmt::format(", {}", d);
    return s + "]";
}

} // namespace

torch::Device resolve_device(const std::string& name) {
    if (name == "cpu") return torch::kCPU;
    const bool have_cuda = torch::cuda::is_available();
    if (name == "auto") return have_cuda ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
    if (!have_cuda)
        throw model_load_error(fmt::format("--device {}: this libtorch has no CUDA support or no GPU is visible "
                                           "(use --device cpu or auto)",
                                           name));
    const int index = name == "cuda" ? 0 : std::stoi(name.substr(5));
    if (index >= static_cast<int>(torch::cuda::device_count()))
        throw model_load_error(
            fmt::format("--device {}: only {} CUDA device(s) are visible", name, torch::cuda::device_count()));
    return {torch::kCUDA, static_cast<c10::DeviceIndex>(index)};
}

std::string torch_error_text(const std::exception& e) {
    if (const auto* c10 = dynamic_cast<const c10::Error*>(&e)) {
        std::string s = c10->what_without_backtrace();
        // TorchScript errors carry the failing source after the first lines.
        if (s.size() > 600) s = s.substr(0, 600) + "…";
        return s;
    }
    return e.what();
}

std::string shape_text(const torch::Tensor& t) {
    std::string s = "[";
    for (std::int64_t i = 0; i < t.dim(); ++i)
        s += fmt::format("{}{}", i ? ", " : "", t.size(i));
    return s + "]";
}

bool shape_matches(const torch::Tensor& t, std::int64_t batch, const std::vector<std::int64_t>& declared) {
    if (t.dim() != static_cast<std::int64_t>(declared.size()) + 1 || t.size(0) != batch) return false;
    for (std::size_t i = 0; i < declared.size(); ++i)
        if (declared[i] >= 0 && t.size(static_cast<std::int64_t>(i) + 1) != declared[i]) return false;
    return true;
}

torch_model::torch_model(const std::string& space, const std::string& path, torch::Device device, bool half)
    : space_(space), path_(path), device_(device), half_(half && device.is_cuda()) {
    if (!std::filesystem::is_regular_file(path))
        throw model_load_error(fmt::format("model for space {}: {} does not exist or is not a file", space, path));
    const auto sidecar = sidecar_path_for(path);
    const auto json = read_file(sidecar);
    if (json.empty())
        throw model_load_error(fmt::format("model for space {}: its sidecar {} is missing or empty (see docs/models.md)",
                                           space, sidecar));
    auto parsed = parse_model_spec(json, model_stem(path));
    if (!parsed.spec) throw model_load_error(fmt::format("model for space {}: {}: {}", space, sidecar, parsed.error));
    spec_ = std::move(*parsed.spec);
    try {
        module_ = torch::jit::load(path, device_);
    } catch (const std::exception& e) {
        throw model_load_error(fmt::format("model {} ({}): not a TorchScript file libtorch can load: {}", spec_.name,
                                           path, torch_error_text(e)));
    }
    module_.eval();
    if (half_) module_.to(torch::kHalf);
    if (half && !device.is_cuda())
        log::warn("model {}: --half is ignored on the CPU (float16 kernels there are slow or missing)", spec_.name);
}

torch_model::torch_model(const std::string& space, const std::string& path, model_spec spec, torch::Device device,
                         native_forward forward)
    : space_(space), path_(path), spec_(std::move(spec)), device_(device), native_(std::move(forward)) {}

std::string torch_model::where() const { return fmt::format("model {} ({})", spec_.name, path_); }

torch::Tensor torch_model::forward(const torch::Tensor& input) {
    c10::InferenceMode guard;
    auto x = input.to(device_);
    if (native_) {
        auto t = native_(x).to(torch::kCPU);
        if (t.is_floating_point()) t = t.to(torch::kFloat);
        return t.contiguous();
    }
    if (half_ && x.is_floating_point()) x = x.to(torch::kHalf);
    auto out = module_.forward({x});
    torch::Tensor t;
    if (out.isTuple()) {
        const auto& elems = out.toTupleRef().elements();
        if (elems.empty() || !elems[0].isTensor()) throw std::runtime_error("forward returned a tuple without a tensor first");
        t = elems[0].toTensor();
    } else if (out.isTensor()) {
        t = out.toTensor();
    } else {
        throw std::runtime_error(fmt::format("forward returned {}, not a tensor", out.tagKind()));
    }
    t = t.to(torch::kCPU);
    if (t.is_floating_point()) t = t.to(torch::kFloat);
    return t.contiguous();
}

void torch_model::check_against_sidecar() {
    const auto& s = spec_;
    const std::int64_t batch = s.batchable() ? 2 : 1;
    torch::Tensor input;
    std::vector<std::int64_t> expect; // after the batch dim; -1 = any
    std::string what;
    switch (s.task) {
    case model_task::text_generation:
        input = torch::zeros({1, static_cast<std::int64_t>(s.context)}, torch::kLong);
        expect = {static_cast<std::int64_t>(s.context), static_cast<std::int64_t>(s.vocab)};
        what = fmt::format("logits [batch, tokens, {}] for byte tokens", s.vocab);
        break;
    case model_task::classification:
        if (s.kind == input_kind::text)
            input = torch::zeros({batch, static_cast<std::int64_t>(s.length)}, torch::kLong);
        else if (s.kind == input_kind::audio)
            input = torch::zeros({batch, static_cast<std::int64_t>(s.samples)});
        else
            input = torch::rand({batch, 3, static_cast<std::int64_t>(s.height), static_cast<std::int64_t>(s.width)});
        expect = {static_cast<std::int64_t>(s.labels.size())};
        what = fmt::format("logits [batch, {}] (one per label)", s.labels.size());
        break;
    case model_task::audio:
        input = torch::zeros({1, static_cast<std::int64_t>(s.sample_rate)});
        expect = {-1};
        what = "samples [1, any]";
        break;
    case model_task::image:
    case model_task::video:
        input = torch::rand({s.task == model_task::video ? 2 : batch, 3, 32, 32});
        expect = {3, 32 * static_cast<std::int64_t>(s.scale), 32 * static_cast<std::int64_t>(s.scale)};
        what = fmt::format("an image [batch, 3, {}·H, {}·W]", s.scale, s.scale);
        break;
    case model_task::tensor: {
        std::vector<std::int64_t> dims{batch};
        for (auto d : s.input_shape)
            dims.push_back(d < 0 ? 2 : d);
        input = s.dtype == tensor_dtype::int64 ? torch::ones(dims, torch::kLong) : torch::rand(dims);
        expect = s.output_shape;
        what = fmt::format("output.shape {}", declared_text(batch, s.output_shape));
        break;
    }
    }
    torch::Tensor out;
    try {
        out = forward(input);
        out = forward(input); // a second call: the profiling executor optimises on it (warm-up)
    } catch (const std::exception& e) {
        throw model_load_error(fmt::format("{}: the dry run with the declared input {} failed: {}", where(),
                                           shape_text(input), torch_error_text(e)));
    }
    if (!shape_matches(out, input.size(0), expect))
        throw model_load_error(fmt::format("{}: the sidecar declares {} = {}, but forward({}) returned {}", where(),
                                           what, declared_text(input.size(0), expect), shape_text(input),
                                           shape_text(out)));
    if (s.task != model_task::tensor && !out.is_floating_point())
        throw model_load_error(fmt::format("{}: forward returned {} values; the sidecar's task {} needs floats", where(),
                                           std::string(c10::toString(out.scalar_type())), to_string(s.task)));
}

} // namespace tether::agent
