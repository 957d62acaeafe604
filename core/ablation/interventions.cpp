#include "core/ablation/interventions.h"

#include <torch/types.h>

#include <algorithm>
#include <set>

#include "core/common/error.h"

namespace sightline {

std::string to_string(HeadAblationMode mode) { return mode == HeadAblationMode::kZero ? "zero" : "mean"; }

HeadAblationMode parse_head_ablation_mode(const std::string& name, const std::string& where,
                                          const std::string& field) {
  if (name == "zero") return HeadAblationMode::kZero;
  if (name == "mean") return HeadAblationMode::kMean;
  fail("file '{}': field '{}': unknown head ablation mode '{}' (zero, mean)", where, field, name);
}

std::string to_string(SteerPositions positions) {
  switch (positions) {
    case SteerPositions::kText: return "text";
    case SteerPositions::kImage: return "image";
    case SteerPositions::kAll: return "all";
    case SteerPositions::kLast: return "last";
    case SteerPositions::kList: return "list";
  }
  return "text";
}

SteerPositions parse_steer_positions(const std::string& name, const std::string& where, const std::string& field) {
  for (auto p : {SteerPositions::kText, SteerPositions::kImage, SteerPositions::kAll, SteerPositions::kLast,
                 SteerPositions::kList}) {
    if (to_string(p) == name) return p;
  }
  fail("file '{}': field '{}': unknown steering positions '{}' (text, image, all, last, list)", where, field, name);
}

std::string sae_hook(const Sae& sae, int layer) {
  const std::string& hook = sae.config().hook_point;
  if (hook.empty()) return hook_name({HookSite::kResidPost, layer});
  const HookPoint p = parse_hook_name(hook);
  check(p.layer == layer, "SAE '{}': hook_point '{}' is not at layer {}, where it is used", sae.config().source, hook,
        layer);
  check(p.site == HookSite::kResidPre || p.site == HookSite::kResidMid || p.site == HookSite::kResidPost ||
            p.site == HookSite::kAttnOut || p.site == HookSite::kMlpOut,
        "SAE '{}': hook_point '{}' is not a [B, T, D] residual-stream hook", sae.config().source, hook);
  return hook;
}

at::Tensor feature_directions(const Sae& sae, const std::vector<int64_t>& features) {
  for (int64_t f : features) {
    check(f >= 0 && f < sae.d_sae(), "SAE '{}': feature {} is outside [0, {})", sae.config().source, f, sae.d_sae());
  }
  torch::NoGradGuard guard;
  const auto index = torch::tensor(features, torch::kInt64).to(sae.w_dec().device());
  const auto cols = sae.w_dec().detach().index_select(1, index).to(torch::kFloat32);  // [D, n]
  const auto norms = cols.norm(2, 0, true);
  return torch::where(norms > 0, cols / norms.clamp_min(1e-30), torch::zeros_like(cols));
}

at::Tensor orthonormal_basis(const at::Tensor& directions, double rel_tol) {
  check(directions.dim() == 2, "orthonormal_basis: directions must be [D, k], got {}", c10::str(directions.sizes()));
  torch::NoGradGuard guard;
  const auto a = directions.detach().to(torch::kFloat64);
  if (a.size(1) == 0) return a;
  // Independent directions: Householder QR spans exactly their span. An unpivoted QR of
  // dependent columns returns extra Q columns outside the span (and may drop part of it),
  // so then the left singular vectors above the tolerance give the basis instead.
  const auto [q, r] = torch::linalg_qr(a, "reduced");
  const auto diag = r.diagonal().abs();
  const double largest = diag.max().item<double>();
  if (largest > 0 && diag.min().item<double>() > rel_tol * largest) return q;
  const auto [u, s, vh] = torch::linalg_svd(a, false);
  const double s_max = s.numel() ? s.max().item<double>() : 0.0;
  if (s_max <= 0) return a.new_zeros({a.size(0), 0});
  const int64_t rank = (s > rel_tol * s_max).sum().item<int64_t>();
  return u.narrow(1, 0, rank).contiguous();
}

namespace {

// [B] bool: the rows an edit applies to.
at::Tensor row_mask(const std::vector<int64_t>& rows, int64_t batch, const HookContext& context,
                    const torch::Device& device) {
  if (rows.empty()) return torch::ones({batch}, torch::TensorOptions().dtype(torch::kBool).device(device));
  auto mask = torch::zeros({batch}, torch::kBool);
  for (int64_t r : rows) {
    check(r >= 0 && r < batch, "edit at hook '{}': row {} is outside the batch of {}", hook_name(context.point), r,
          batch);
    mask[r] = true;
  }
  return mask.to(device);
}

// Wider of the activation's dtype and float32: projections in half precision would leave
// a visible component along v.
torch::ScalarType compute_dtype(const at::Tensor& x) {
  return x.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
}

void check_residual(const at::Tensor& y, const HookContext& context, int64_t d, const char* what) {
  check(y.dim() == 3 && y.size(2) == d, "{} at hook '{}': activation {} does not end in the direction's size {}",
        what, hook_name(context.point), c10::str(y.sizes()), d);
  check(context.token_types.dim() == 2 && context.token_types.size(0) == y.size(0) &&
            context.token_types.size(1) == y.size(1),
        "{} at hook '{}': token_types {} do not match the activation {}", what, hook_name(context.point),
        c10::str(context.token_types.sizes()), c10::str(y.sizes()));
}

}  // namespace

HookFn project_out_edit(const at::Tensor& basis, const std::vector<int64_t>& rows) {
  check(basis.dim() == 2, "project_out_edit: basis must be [D, r], got {}", c10::str(basis.sizes()));
  const at::Tensor q64 = basis.detach().to(torch::kFloat64);
  return [q64, rows](const at::Tensor& y, const HookContext& context) -> at::Tensor {
    check_residual(y, context, q64.size(0), "feature ablation");
    if (q64.size(1) == 0) return y;
    const auto ct = compute_dtype(y);
    const auto q = q64.to(y.device(), ct);
    const auto y_wide = y.to(ct);
    const auto projected = y_wide - torch::matmul(torch::matmul(y_wide, q), q.t());  // (B, T, D)
    const auto mask = context.token_types.eq(kTokenText).logical_and(
        row_mask(rows, y.size(0), context, y.device()).unsqueeze(1));  // (B, T)
    // where() keeps every other row bit-identical, also in half precision.
    return torch::where(mask.unsqueeze(-1), projected.to(y.scalar_type()), y);
  };
}

HookFn head_set_edit(const std::vector<int64_t>& heads, const at::Tensor& values, const std::vector<int64_t>& rows) {
  check(values.dim() == 2 && values.size(0) == static_cast<int64_t>(heads.size()),
        "head_set_edit: values must be [{} heads, dh], got {}", heads.size(), c10::str(values.sizes()));
  const at::Tensor v = values.detach();
  return [heads, v, rows](const at::Tensor& z, const HookContext& context) -> at::Tensor {
    check(z.dim() == 4 && z.size(3) == v.size(1), "head ablation at hook '{}': z {} does not end in dh = {}",
          hook_name(context.point), c10::str(z.sizes()), v.size(1));
    const int64_t H = z.size(2);
    auto head_mask = torch::zeros({H}, torch::kBool);
    auto full = torch::zeros({H, v.size(1)}, v.options().device(torch::kCPU));
    for (size_t i = 0; i < heads.size(); ++i) {
      check(heads[i] >= 0 && heads[i] < H, "head ablation at hook '{}': head {} is outside [0, {})",
            hook_name(context.point), heads[i], H);
      head_mask[heads[i]] = true;
      full[heads[i]] = v[static_cast<int64_t>(i)].to(torch::kCPU);
    }
    const auto mask = row_mask(rows, z.size(0), context, z.device()).view({-1, 1, 1, 1})
                          .logical_and(head_mask.to(z.device()).view({1, 1, H, 1}));  // (B, 1, H, 1)
    return torch::where(mask, full.to(z.device(), z.scalar_type()).view({1, 1, H, -1}), z);
  };
}

HookFn add_vector_edit(const at::Tensor& vector, SteerPositions where, const std::vector<int64_t>& positions,
                       const std::vector<int64_t>& rows) {
  check(vector.dim() == 1, "add_vector_edit: vector must be [D], got {}", c10::str(vector.sizes()));
  check(where != SteerPositions::kList || !positions.empty(), "add_vector_edit: positions 'list' needs positions");
  const at::Tensor vec = vector.detach();
  return [vec, where, positions, rows](const at::Tensor& y, const HookContext& context) -> at::Tensor {
    check_residual(y, context, vec.size(0), "steering");
    const auto& types = context.token_types;
    const int64_t B = y.size(0), T = y.size(1);
    at::Tensor mask;  // (B, T) bool
    switch (where) {
      case SteerPositions::kText: mask = types.eq(kTokenText); break;
      case SteerPositions::kImage: mask = types.eq(kTokenImage); break;
      case SteerPositions::kAll: mask = types.ne(kTokenPad); break;
      case SteerPositions::kLast: {
        // Right padding: the last real position is (real count - 1).
        const auto last = types.ne(kTokenPad).sum(1).sub(1).clamp_min(0);
        mask = torch::arange(T, torch::TensorOptions().dtype(torch::kInt64).device(y.device()))
                   .unsqueeze(0)
                   .eq(last.unsqueeze(1));
        break;
      }
      case SteerPositions::kList: {
        auto m = torch::zeros({T}, torch::kBool);
        for (int64_t p : positions) {
          check(p >= 0 && p < T, "steering at hook '{}': position {} is outside the sequence of {}",
                hook_name(context.point), p, T);
          m[p] = true;
        }
        mask = m.to(y.device()).unsqueeze(0).expand({B, T}).logical_and(types.ne(kTokenPad));
        break;
      }
    }
    mask = mask.logical_and(row_mask(rows, B, context, y.device()).unsqueeze(1));
    const auto ct = compute_dtype(y);
    const auto added = y.to(ct) + vec.to(y.device(), ct);
    return torch::where(mask.unsqueeze(-1), added.to(y.scalar_type()), y);
  };
}

void add_interventions(ForwardRequest& request, const InterventionSet& set, const InterventionResources& resources,
                       const VisionLanguageModel& model, const std::vector<int64_t>& rows) {
  const int L = model.num_layers();
  auto sae_of = [&](int layer, const char* what) -> const Sae& {
    check(layer >= 0 && layer < L, "{}: layer {} is outside the model's {} layers", what, layer, L);
    const auto it = resources.saes.find(layer);
    check(it != resources.saes.end() && it->second, "{}: no SAE is loaded for layer {}", what, layer);
    check(it->second->d_model() == model.config().text.hidden_size,
          "{}: SAE '{}' has d_model {} but the model's hidden_size is {}", what, it->second->config().source,
          it->second->d_model(), model.config().text.hidden_size);
    return *it->second;
  };
  // Feature ablations: one projection per hook over all of that hook's directions.
  std::map<std::string, std::vector<at::Tensor>> ablate_dirs;
  std::set<SaeFeature> seen;
  for (const auto& f : set.ablate_features) {
    if (!seen.insert(f).second) continue;
    const Sae& sae = sae_of(f.layer, "feature ablation");
    ablate_dirs[sae_hook(sae, f.layer)].push_back(feature_directions(sae, {f.feature}));
  }
  for (const auto& [hook, dirs] : ablate_dirs) {
    request.edits[hook].push_back(project_out_edit(orthonormal_basis(torch::cat(dirs, 1)), rows));
  }
  for (const auto& s : set.steer) {
    const Sae& sae = sae_of(s.layer, "steering");
    const auto v = feature_directions(sae, {s.feature}).squeeze(1) * s.alpha;
    request.edits[sae_hook(sae, s.layer)].push_back(add_vector_edit(v, s.where, s.positions, rows));
  }
  // Head ablations: one edit per layer at hook_z.
  const int64_t H = model.config().text.num_attention_heads, dh = model.config().text.head_dim;
  std::map<int, std::map<int64_t, at::Tensor>> head_values;  // layer -> head -> [dh]
  for (const auto& h : set.ablate_heads) {
    check(h.layer >= 0 && h.layer < L, "head ablation: layer {} is outside the model's {} layers", h.layer, L);
    check(h.head >= 0 && h.head < H, "head ablation: head {} is outside the model's {} heads", h.head, H);
    at::Tensor value;
    if (h.mode == HeadAblationMode::kZero) {
      value = torch::zeros({dh}, torch::kFloat32);
    } else {
      const auto it = resources.head_means.find(h.layer);
      check(it != resources.head_means.end() && it->second.defined(),
            "head ablation: mean ablation of L{}H{} needs the layer's mean z, and none was given", h.layer, h.head);
      check(it->second.dim() == 2 && it->second.size(0) == H && it->second.size(1) == dh,
            "head ablation: the mean z of layer {} is {}, expected [{}, {}]", h.layer, c10::str(it->second.sizes()), H,
            dh);
      value = it->second[h.head].detach().to(torch::kCPU, torch::kFloat32);
    }
    head_values[h.layer][h.head] = value;
  }
  for (const auto& [layer, by_head] : head_values) {
    std::vector<int64_t> heads;
    std::vector<at::Tensor> values;
    for (const auto& [head, value] : by_head) {
      heads.push_back(head);
      values.push_back(value);
    }
    request.edits[hook_name({HookSite::kZ, layer})].push_back(head_set_edit(heads, torch::stack(values, 0), rows));
  }
}

std::map<int, at::Tensor> mean_head_outputs(const VisionLanguageModel& model, const std::vector<BatchInput>& batches,
                                            const std::vector<int>& layers, Progress& progress) {
  check(!layers.empty(), "mean_head_outputs: no layers given");
  const int L = model.num_layers();
  ForwardRequest request;
  request.logits = LogitsMode::kNone;
  int last = 0;
  for (int l : layers) {
    check(l >= 0 && l < L, "mean_head_outputs: layer {} is outside the model's {} layers", l, L);
    request.capture.insert(hook_name({HookSite::kZ, l}));
    last = std::max(last, l);
  }
  request.stop_after_layer = last;
  std::map<int, at::Tensor> sums;
  double count = 0;
  progress.begin("head means", static_cast<int64_t>(batches.size()));
  torch::NoGradGuard guard;
  for (const auto& input : batches) {
    progress.check_cancel();
    const auto prepared = model.prepare(input);
    const auto out = model.forward(prepared, request);
    const auto real = prepared.token_types.ne(kTokenPad).to(torch::kFloat32);  // (B, T)
    count += real.sum().item<double>();
    for (int l : layers) {
      const auto z = out.at(hook_name({HookSite::kZ, l})).to(torch::kFloat32);  // (B, T, H, dh)
      const auto s = (z * real.view({real.size(0), real.size(1), 1, 1})).sum(std::vector<int64_t>{0, 1});  // (H, dh)
      sums[l] = sums[l].defined() ? sums[l] + s : s;
    }
    progress.tick();
  }
  check(count > 0, "mean_head_outputs: the batches hold no positions");
  std::map<int, at::Tensor> means;
  for (int l : layers) means[l] = sums[l] / count;
  return means;
}

}  // namespace sightline
