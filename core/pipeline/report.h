// What a run's store says, per layer (the CLI's summary table) and as CSV files
// (`sightline report`):
//   features.csv  layer,feature,<every FeatureRow column>,<every extra metric, sorted>
//   fvu.csv       layer,regime,tokens,fvu,l0        (held-out curves of the adapt stage)
//   sweep.csv     eps,p_cos,cosine_threshold,count,jaccard,layer_correlation
//   layers.csv    layer,features,fvu_<regime>...,l0_<regime>...,cos_<regime>...,adapted,
//                 active,mean_cosine_all,mean_cosine_adapted,mean_visual_energy
//   skill_features.csv
//                 layer,feature,skill,p_base,p_skill,dp,odds_ratio,lexical_pass,adapted,
//                 selected,top_relations: one row per candidate of each skill (shift
//                 stage), skills in the shift stage's order; selected is empty until the
//                 lexical stage ran; top_relations = the topk stage's top relations
//                 (OR > 1, highest first, at most stages.topk.top_relations) joined by ';'
// and, only when the run has such rows (stages attrib and ablate):
//   heads.csv     layer,feature,method,head_layer,head,score   (method A, B or exact)
//   patching.csv  layer,feature,spearman_a,spearman_b
//   ablation.csv  layer,feature,d_vsr_acc,d_vsr_prob,d_vqa_acc,d_ctrl,vsr_or,n_samples,
//                 relations   (accuracies in points; relations joined with ", ")
//   ablation.md   the paper's Table 1 (the features with the largest VSR accuracy drop)
//                 and Table 2 (every feature, dCtrl with its spread over seeds) in Markdown
// Empty fields are values not computed (NaN / NULL). Numbers are written in shortest
// round-trip form.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/store/store.h"

namespace sightline {

struct LayerSummary {
  int layer = 0;
  std::map<std::string, double> fvu;             // regime -> last held-out FVU
  std::map<std::string, double> l0;              // regime -> last held-out L0
  std::map<std::string, double> decoder_cosine;  // regime -> mean c_f vs the base SAE
  double features = kNotComputed;                // diff stage: features of the layer
  double adapted = kNotComputed;                 // diff stage: |A| in the layer
  double active = kNotComputed;                  // diff stage: features with E_v > 0
  double mean_cosine_all = kNotComputed;         // diff stage (its regime)
  double mean_cosine_adapted = kNotComputed;
  double mean_visual_energy = kNotComputed;
  std::map<std::string, double> skill_candidates;  // shift stage: skill -> candidates in the layer
  std::map<std::string, double> skill_selected;    // lexical stage: skill -> skill features
};

struct RunSummary {
  std::vector<std::string> regimes;  // present in the store, in the paper's order
  std::vector<LayerSummary> layers;  // ascending
  std::vector<std::string> skills;   // the shift stage's skills, in its order (when done)
};

// Reads the adapt and diff stages' curves and the skill stages' selections of a run.
RunSummary run_summary(Store& store, int64_t run_id);

// A fixed-width text table: layer, FVU per regime, cosine per regime, |A|, mean cosine
// (all / adapted), then candidates and selected features per skill when the skill stages
// ran.
std::string format_summary(const RunSummary& summary);

struct ReportCounts {
  int64_t features = 0, fvu = 0, sweep = 0, layers = 0, skill_features = 0;  // data rows written per file
  int64_t heads = 0, patching = 0, ablation = 0;  // 0: the file was not written
};

// Rows of Table 1 in ablation.md.
constexpr int kAblationTable1Rows = 10;

// Writes the files above into `out_dir` (created when missing), atomically each.
ReportCounts write_report(Store& store, int64_t run_id, const std::string& out_dir);

}  // namespace sightline
