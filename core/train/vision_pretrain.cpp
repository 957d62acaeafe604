#include "core/train/vision_pretrain.h"

#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/linear.h>
#include <torch/types.h>

#include <fmt/format.h>

#include "core/common/error.h"
#include "core/image/image.h"
#include "core/world/relations.h"
#include "core/world/render.h"

namespace sightline {

at::Tensor scene_pixels(const std::vector<Scene>& scenes, const WorldOptions& world, const VisionConfig& vision) {
  ClipPreprocess p;
  p.size = static_cast<int>(vision.image_size);
  p.pad_to_square = false;
  for (int c = 0; c < 3; ++c) {
    p.mean[c] = static_cast<float>(vision.image_mean[c]);
    p.std[c] = static_cast<float>(vision.image_std[c]);
  }
  std::vector<at::Tensor> out;
  out.reserve(scenes.size());
  for (const auto& s : scenes) out.push_back(preprocess_clip(render_scene(s, world), p));
  return torch::stack(out);
}

namespace {

struct Heads {
  PatchTargetSpec spec;
  std::vector<int64_t> class_sizes;  // colour, shape, size, cell_x, cell_y, facing, character
  int64_t multi = 0;                 // colours + shapes + contact + overlap
  int64_t relations = 0;             // relational targets (spec.relations), 0 without
  int64_t total() const {
    int64_t t = multi + relations;
    for (auto c : class_sizes) t += c;
    return t;
  }
};

Heads make_heads(const PatchTargetSpec& s) {
  Heads h;
  h.spec = s;
  h.class_sizes = {s.n_colours + 1, s.n_shapes + 1, s.n_sizes + 1, s.n_cells + 1, s.n_cells + 1, s.n_facings + 1,
                   s.n_chars + 1};
  h.multi = s.n_colours + s.n_shapes + 2;
  if (s.relations) h.relations = static_cast<int64_t>(relation_table().size()) * s.n_colours;
  return h;
}

struct BatchTargets {
  at::Tensor cls;                        // [7, N*P] int64
  at::Tensor multi;                      // [N*P, multi] float
  at::Tensor relation, relation_known;   // [N*P, relations] float (undefined without)
};

BatchTargets batch_targets(const std::vector<Scene>& scenes, const WorldOptions& world, const Heads& heads,
                           const c10::Device& device) {
  std::vector<std::vector<int64_t>> cls(7);
  std::vector<float> multi, relation, known;
  for (const auto& s : scenes) {
    const auto t = patch_targets(s, world, heads.spec);
    // Order must match class_sizes: colour, shape, size, cell_x, cell_y, facing, character.
    const std::vector<const std::vector<int64_t>*> ordered{&t.colour, &t.shape, &t.size, &t.cell_x,
                                                           &t.cell_y, &t.facing, &t.character};
    for (size_t k = 0; k < 7; ++k) cls[k].insert(cls[k].end(), ordered[k]->begin(), ordered[k]->end());
    const size_t P = t.contact.size();
    for (size_t p = 0; p < P; ++p) {
      for (int c = 0; c < heads.spec.n_colours; ++c) multi.push_back(t.colours_present[p * heads.spec.n_colours + c]);
      for (int c = 0; c < heads.spec.n_shapes; ++c) multi.push_back(t.shapes_present[p * heads.spec.n_shapes + c]);
      multi.push_back(t.contact[p]);
      multi.push_back(t.overlap[p]);
    }
    relation.insert(relation.end(), t.relation.begin(), t.relation.end());
    known.insert(known.end(), t.relation_known.begin(), t.relation_known.end());
  }
  std::vector<at::Tensor> rows;
  for (auto& c : cls) rows.push_back(torch::tensor(c, torch::kInt64));
  const int64_t np = static_cast<int64_t>(cls[0].size());
  BatchTargets b;
  b.cls = torch::stack(rows).to(device);
  b.multi = torch::tensor(multi, torch::kFloat32).view({np, heads.multi}).to(device);
  if (heads.relations > 0) {
    b.relation = torch::tensor(relation, torch::kFloat32).view({np, heads.relations}).to(device);
    b.relation_known = torch::tensor(known, torch::kFloat32).view({np, heads.relations}).to(device);
  }
  return b;
}

struct HeadOutputs {
  at::Tensor loss;
  std::vector<at::Tensor> logits;  // per class head [NP, classes]
  at::Tensor multi_logits;         // [NP, multi]
  at::Tensor relation_logits;      // [NP, relations] (undefined without)
};

HeadOutputs apply_heads(const at::Tensor& features, torch::nn::Linear& head, const Heads& heads,
                        const BatchTargets& t) {
  const at::Tensor& cls = t.cls;
  const at::Tensor& multi = t.multi;
  auto out = head(features.reshape({-1, features.size(-1)}));  // (NP, total)
  HeadOutputs r;
  int64_t off = 0;
  r.loss = torch::zeros({}, out.options());
  for (size_t k = 0; k < heads.class_sizes.size(); ++k) {
    auto l = out.narrow(1, off, heads.class_sizes[k]);
    off += heads.class_sizes[k];
    r.loss = r.loss + torch::nn::functional::cross_entropy(l, cls[static_cast<int64_t>(k)]);
    r.logits.push_back(l);
  }
  r.multi_logits = out.narrow(1, off, heads.multi);
  r.loss = r.loss + 4.0 * torch::nn::functional::binary_cross_entropy_with_logits(r.multi_logits, multi);
  if (heads.relations > 0) {
    r.relation_logits = out.narrow(1, off + heads.multi, heads.relations);
    namespace F = torch::nn::functional;
    const auto bce = F::binary_cross_entropy_with_logits(
        r.relation_logits, t.relation, F::BinaryCrossEntropyWithLogitsFuncOptions().reduction(torch::kNone));
    // Mean over the decided entries only (a patch without an object decides none).
    r.loss = r.loss + 4.0 * (bce * t.relation_known).sum() / t.relation_known.sum().clamp_min(1.0);
  }
  return r;
}

}  // namespace

VisionPretrainReport pretrain_vision(VisionLanguageModel& model, const SceneSource& train_source,
                                     const SceneSource& val_source, int64_t val_scenes, const WorldOptions& world,
                                     const OptimOptions& optim, Progress& progress,
                                     const std::function<void(const std::string&)>& log, bool relation_targets) {
  check(model.has_vision(), "vision pretraining needs a model with a vision tower");
  const auto& vision = *model.config().mm.vision;
  PatchTargetSpec spec;
  spec.grid = static_cast<int>(vision.grid());
  spec.relations = relation_targets;
  const Heads heads = make_heads(spec);
  torch::manual_seed(17);
  torch::nn::Linear head(vision.hidden_size, heads.total());
  const c10::Device device(model.device());
  head->to(device);
  model.set_trainable({"model.vision_tower."});
  auto params = model.trainable_parameters();
  for (auto& p : head->parameters()) params.push_back(p);
  Optimiser opt(params, optim);
  progress.begin("vision tower", optim.steps);
  VisionPretrainReport report;
  auto evaluate = [&]() {
    torch::NoGradGuard guard;
    std::vector<Scene> scenes;
    for (int64_t i = 0; i < val_scenes; ++i) scenes.push_back(val_source(i));
    const auto t = batch_targets(scenes, world, heads, device);
    const auto& cls = t.cls;
    const auto& multi = t.multi;
    const auto r = apply_heads(model.vision_features(scene_pixels(scenes, world, vision)), head, heads, t);
    const auto has = cls[0].gt(0);
    const auto colour_hit = r.logits[0].argmax(1).eq(cls[0]) & has;
    const auto cell_hit = r.logits[3].argmax(1).eq(cls[3]) & r.logits[4].argmax(1).eq(cls[4]) & has;
    const auto contact_hit = r.multi_logits.select(1, heads.multi - 2).gt(0).eq(multi.select(1, heads.multi - 2).gt(0.5));
    const double n = std::max<int64_t>(1, has.sum().item<int64_t>());
    report.loss = r.loss.item<double>();
    report.colour_accuracy = colour_hit.sum().item<double>() / n;
    report.cell_accuracy = cell_hit.sum().item<double>() / n;
    report.contact_accuracy = contact_hit.to(torch::kFloat).mean().item<double>();
    if (heads.relations > 0) {
      const auto hit = r.relation_logits.gt(0).eq(t.relation.gt(0.5)).to(torch::kFloat) * t.relation_known;
      report.relation_accuracy = hit.sum().item<double>() / std::max(1.0, t.relation_known.sum().item<double>());
    }
  };
  for (int64_t step = 0; step < optim.steps; ++step) {
    progress.check_cancel();
    std::vector<Scene> scenes;
    for (int64_t i = 0; i < optim.batch_size; ++i) scenes.push_back(train_source(step * optim.batch_size + i));
    const auto t = batch_targets(scenes, world, heads, device);
    torch::AutoGradMode grad(true);
    const auto r = apply_heads(model.vision_features(scene_pixels(scenes, world, vision)), head, heads, t);
    opt.zero_grad();
    r.loss.backward();
    opt.step(step);
    progress.tick();
    if ((step + 1) % std::max<int64_t>(1, optim.steps / 5) == 0 || step + 1 == optim.steps) {
      evaluate();
      log(fmt::format("vision step {}/{}: train loss {:.3f}, val loss {:.3f}, colour {:.3f}, cell {:.3f}, contact {:.3f}"
                      "{}",
                      step + 1, optim.steps, r.loss.item<double>(), report.loss, report.colour_accuracy,
                      report.cell_accuracy, report.contact_accuracy,
                      heads.relations > 0 ? fmt::format(", relations {:.3f}", report.relation_accuracy) : ""));
    }
  }
  model.set_trainable({});
  report.steps = optim.steps;
  return report;
}

}  // namespace sightline
