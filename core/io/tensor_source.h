// TensorSource: every tensor of a checkpoint, whichever way HF laid it out on disk.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/io/safetensors.h"

namespace sightline {

// A checkpoint directory as HF writes it, tried in this order:
//   1. model.safetensors;
//   2. model.safetensors.index.json (+ the shards named by its weight_map);
//   3. every *.safetensors file in the directory.
// Also accepts a path to a single .safetensors file. The constructor opens (mmaps) and
// validates every shard, checks that every shard named in the index exists (error names
// the index and the shard), that every weight_map entry is in its shard (error names
// both), and that no tensor name appears in two shards outside an index.
class TensorSource {
 public:
  explicit TensorSource(const std::string& path);
  ~TensorSource();
  TensorSource(const TensorSource&) = delete;
  TensorSource& operator=(const TensorSource&) = delete;

  // All tensors of all shards, sorted.
  std::vector<std::string> names() const;
  bool contains(const std::string& name) const;
  // Throws "checkpoint '<path>': no tensor '<name>'" when missing.
  const SafetensorsEntry& entry(const std::string& name) const;
  // An owned contiguous CPU tensor of the stored dtype; throws naming the checkpoint and
  // tensor when missing.
  at::Tensor load(const std::string& name) const;
  // load() plus a shape check; throws
  // "file '<shard>': tensor '<n>' has shape [a, b], expected [c, d] (from <why>)".
  at::Tensor load_shaped(const std::string& name, const std::vector<int64_t>& shape, const std::string& why) const;
  // Path of the shard file holding `name`.
  std::string file_of(const std::string& name) const;
  // The path given to the constructor.
  const std::string& path() const { return path_; }

 private:
  const SafetensorsFile& shard_of(const std::string& name) const;

  std::string path_;
  std::vector<std::unique_ptr<SafetensorsFile>> shards_;
  std::map<std::string, size_t> index_;  // tensor name -> shards_ position
};

}  // namespace sightline
