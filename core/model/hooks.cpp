#include "core/model/hooks.h"

#include <array>
#include <cstdlib>

#include "core/common/error.h"

namespace sightline {

namespace {

struct SiteName {
  HookSite site;
  const char* suffix;  // after "blocks.L."
};

constexpr std::array<SiteName, 10> kBlockSites{{{HookSite::kResidPre, "hook_resid_pre"},
                                                {HookSite::kQ, "attn.hook_q"},
                                                {HookSite::kK, "attn.hook_k"},
                                                {HookSite::kV, "attn.hook_v"},
                                                {HookSite::kPattern, "attn.hook_pattern"},
                                                {HookSite::kZ, "attn.hook_z"},
                                                {HookSite::kAttnOut, "hook_attn_out"},
                                                {HookSite::kResidMid, "hook_resid_mid"},
                                                {HookSite::kMlpOut, "hook_mlp_out"},
                                                {HookSite::kResidPost, "hook_resid_post"}}};

}  // namespace

std::string hook_name(const HookPoint& point) {
  if (point.site == HookSite::kEmbed) return "hook_embed";
  for (const auto& s : kBlockSites) {
    if (s.site == point.site) return "blocks." + std::to_string(point.layer) + "." + s.suffix;
  }
  fail("hook site {} has no name", static_cast<int>(point.site));
}

HookPoint parse_hook_name(const std::string& name, int num_layers) {
  if (name == "hook_embed") return {HookSite::kEmbed, -1};
  const std::string prefix = "blocks.";
  if (name.rfind(prefix, 0) == 0) {
    const size_t dot = name.find('.', prefix.size());
    if (dot != std::string::npos && dot > prefix.size()) {
      const std::string digits = name.substr(prefix.size(), dot - prefix.size());
      bool numeric = digits.size() <= 6;
      for (char c : digits) numeric = numeric && c >= '0' && c <= '9';
      const std::string suffix = name.substr(dot + 1);
      if (numeric) {
        const int layer = std::atoi(digits.c_str());
        for (const auto& s : kBlockSites) {
          if (suffix == s.suffix) {
            if (num_layers >= 0 && layer >= num_layers) {
              fail("hook '{}': layer {} is out of range (the model has {} layers)", name, layer, num_layers);
            }
            return {s.site, layer};
          }
        }
      }
    }
  }
  fail("'{}' is not a hook name (e.g. hook_embed, blocks.3.hook_resid_post, blocks.3.attn.hook_z)", name);
}

std::vector<std::string> all_hook_names(int num_layers) {
  std::vector<std::string> names{"hook_embed"};
  for (int l = 0; l < num_layers; ++l) {
    for (const auto& s : kBlockSites) names.push_back(hook_name({s.site, l}));
  }
  return names;
}

const at::Tensor& ForwardOutput::at(const std::string& hook) const {
  auto it = captured.find(hook);
  if (it == captured.end()) fail("hook '{}' was not captured in this forward pass", hook);
  return it->second;
}

}  // namespace sightline
