#include "core/io/tensor_source.h"

#include <fmt/ranges.h>
#include <torch/types.h>

#include <algorithm>
#include <filesystem>

#include "core/common/error.h"
#include "core/io/json_util.h"

namespace fs = std::filesystem;

namespace sightline {

TensorSource::TensorSource(const std::string& path) : path_(path) {
  std::error_code ec;
  const fs::path root(path);
  const auto status = fs::status(root, ec);
  if (ec || !fs::exists(status)) fail("checkpoint '{}': no such file or directory", path);

  auto add_shard = [&](const fs::path& file) -> size_t {
    shards_.push_back(std::make_unique<SafetensorsFile>(file.string()));
    return shards_.size() - 1;
  };

  if (fs::is_regular_file(status)) {
    const size_t s = add_shard(root);
    for (const auto& name : shards_[s]->names()) index_.emplace(name, s);
    return;
  }
  if (!fs::is_directory(status)) fail("checkpoint '{}': neither a file nor a directory", path);

  const fs::path single = root / "model.safetensors";
  const fs::path index_path = root / "model.safetensors.index.json";
  if (fs::is_regular_file(single)) {
    const size_t s = add_shard(single);
    for (const auto& name : shards_[s]->names()) index_.emplace(name, s);
    return;
  }

  if (fs::exists(index_path)) {
    const std::string where = index_path.string();
    const nlohmann::json j = read_json_file(where);
    const auto weight_map = json_get<std::map<std::string, std::string>>(j, "weight_map", where);
    if (weight_map.empty()) fail("file '{}': field 'weight_map' is empty", where);

    // Open each distinct shard once, in sorted order (deterministic shards_ layout).
    std::map<std::string, size_t> shard_pos;
    std::map<std::string, std::string> example_tensor;  // shard -> a tensor it should hold
    for (const auto& [tensor, shard] : weight_map) example_tensor.emplace(shard, tensor);
    for (const auto& [shard, tensor] : example_tensor) {
      const fs::path file = root / shard;
      if (!fs::is_regular_file(file))
        fail("file '{}': shard '{}' (holding tensor '{}') does not exist at '{}'", where, shard, tensor,
             file.string());
      shard_pos.emplace(shard, add_shard(file));
    }
    for (const auto& [tensor, shard] : weight_map) {
      const size_t s = shard_pos.at(shard);
      if (!shards_[s]->contains(tensor))
        fail("file '{}': weight_map puts tensor '{}' in shard '{}', but file '{}' has no tensor '{}'", where, tensor,
             shard, shards_[s]->path(), tensor);
      index_.emplace(tensor, s);
    }
    // Tensors a shard holds beyond the weight_map are still reachable; the index wins
    // where the same name appears in two shards.
    for (size_t s = 0; s < shards_.size(); ++s)
      for (const auto& name : shards_[s]->names()) index_.emplace(name, s);
    return;
  }

  std::vector<fs::path> files;
  for (const auto& de : fs::directory_iterator(root, ec)) {
    if (de.path().extension() == ".safetensors" && de.is_regular_file()) files.push_back(de.path());
  }
  if (ec) fail("checkpoint '{}': cannot list directory: {}", path, ec.message());
  if (files.empty())
    fail("checkpoint '{}': no model.safetensors, model.safetensors.index.json or *.safetensors file", path);
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    const size_t s = add_shard(file);
    for (const auto& name : shards_[s]->names()) {
      const auto [it, inserted] = index_.emplace(name, s);
      if (!inserted)
        fail("checkpoint '{}': tensor '{}' is in both '{}' and '{}' (and there is no index to choose)", path, name,
             shards_[it->second]->path(), shards_[s]->path());
    }
  }
}

TensorSource::~TensorSource() = default;

std::vector<std::string> TensorSource::names() const {
  std::vector<std::string> out;
  out.reserve(index_.size());
  for (const auto& [name, s] : index_) out.push_back(name);
  return out;
}

bool TensorSource::contains(const std::string& name) const { return index_.count(name) > 0; }

const SafetensorsFile& TensorSource::shard_of(const std::string& name) const {
  const auto it = index_.find(name);
  if (it == index_.end()) fail("checkpoint '{}': no tensor '{}'", path_, name);
  return *shards_[it->second];
}

const SafetensorsEntry& TensorSource::entry(const std::string& name) const { return shard_of(name).entry(name); }

at::Tensor TensorSource::load(const std::string& name) const { return shard_of(name).load(name); }

at::Tensor TensorSource::load_shaped(const std::string& name, const std::vector<int64_t>& shape,
                                     const std::string& why) const {
  const SafetensorsFile& shard = shard_of(name);
  const SafetensorsEntry& e = shard.entry(name);
  // Checked before loading so a wrong multi-GB tensor is never copied.
  if (e.shape != shape)
    fail("file '{}': tensor '{}' has shape [{}], expected [{}] (from {})", shard.path(), name,
         fmt::join(e.shape, ", "), fmt::join(shape, ", "), why);
  return shard.load(name);
}

std::string TensorSource::file_of(const std::string& name) const { return shard_of(name).path(); }

}  // namespace sightline
