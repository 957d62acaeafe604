// A pipeline as a graph of named stages: what each stage needs, what its results depend
// on, and how to compute and reset them. JobRunner (job_runner.h) executes the graph.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace sightline {

class Store;
class StageContext;

struct Stage {
  // Unique within a graph; also the stage's key in the store's `stages` table.
  std::string name;
  // Stages whose results this one reads; they run first. A dependency that fails makes
  // this stage "skipped".
  std::vector<std::string> deps;
  // Identifies the options this stage's results depend on, e.g. hash_options(options
  // JSON dumped with sorted keys). A stage already done with the same options_hash (and
  // unchanged dependencies, see stage_keys) is not recomputed.
  std::string options_hash;
  // Computes the stage. Reports progress and polls for cancel through the context, writes
  // partial results with ctx.write() and the final ones with ctx.commit(). Throwing
  // marks the stage failed with the exception's message (Cancelled marks it cancelled).
  std::function<void(StageContext&)> run;
  // Optional: deletes this stage's rows from earlier attempts (partial writes of a killed
  // process, or results for other options), e.g. store.clear(run_id, StoreTable::kHeads).
  // Runs in the same transaction that marks the stage running, before run().
  std::function<void(Store&, int64_t run_id)> reset;
};

// A stable 64-bit FNV-1a hash of `text` as 16 lowercase hex digits: the same on every
// build and platform (std::hash is not), so keys stored by one build match the next.
std::string hash_options(const std::string& text);

// Checks the graph and returns stage indices in dependency order; among stages whose
// dependencies are met, the earlier-declared one comes first. Throws Error naming the
// stage for: an empty or duplicate name, a missing run function, an unknown dependency,
// a stage depending on itself, a repeated dependency, or a cycle (listing it).
std::vector<size_t> topological_order(const std::vector<Stage>& stages);

// Each stage's key: hash of its name, its options_hash and its dependencies' keys, so
// changing an upstream stage's options changes the key of everything downstream of it
// and a resumed run recomputes exactly the stale part. Calls topological_order().
std::vector<std::string> stage_keys(const std::vector<Stage>& stages);

}  // namespace sightline
