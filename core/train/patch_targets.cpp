#include "core/train/patch_targets.h"

#include <algorithm>

#include "core/common/error.h"
#include "core/world/raster.h"
#include "core/world/relations.h"
#include "core/world/render.h"

namespace sightline {

int64_t character_class(char c) {
  if (c >= 'A' && c <= 'Z') return 1 + (c - 'A');
  if (c >= '0' && c <= '9') return 27 + (c - '0');
  return 0;
}

PatchTargets patch_targets(const Scene& scene, const WorldOptions& world, const PatchTargetSpec& spec) {
  const int S = world.image_size, g = spec.grid;
  check(S % g == 0, "image size {} is not a multiple of the patch grid {}", S, g);
  const int ps = S / g, P = g * g;
  const size_t n = scene.objects.size();
  std::vector<Mask> masks;
  masks.reserve(n);
  for (const auto& o : scene.objects) masks.push_back(object_mask(o, world));
  // Visible object per pixel (painter's order) and how many masks cover it.
  std::vector<int> top(static_cast<size_t>(S) * S, -1);
  std::vector<uint8_t> cover(static_cast<size_t>(S) * S, 0);
  for (size_t i : draw_order(scene)) {
    for (int y = masks[i].y0; y <= masks[i].y1; ++y) {
      for (int x = masks[i].x0; x <= masks[i].x1; ++x) {
        if (!masks[i].at(x, y)) continue;
        top[static_cast<size_t>(y) * S + x] = static_cast<int>(i);
        ++cover[static_cast<size_t>(y) * S + x];
      }
    }
  }
  PatchTargets t;
  for (auto* v : {&t.colour, &t.shape, &t.size, &t.cell_x, &t.cell_y, &t.facing, &t.character}) v->assign(P, 0);
  t.colours_present.assign(static_cast<size_t>(P) * spec.n_colours, 0.f);
  t.shapes_present.assign(static_cast<size_t>(P) * spec.n_shapes, 0.f);
  t.contact.assign(P, 0.f);
  t.overlap.assign(P, 0.f);
  t.object.assign(P, -1);
  std::vector<int> counts(n);
  for (int pr = 0; pr < g; ++pr) {
    for (int pc = 0; pc < g; ++pc) {
      const int p = pr * g + pc;
      std::fill(counts.begin(), counts.end(), 0);
      for (int y = pr * ps; y < (pr + 1) * ps; ++y) {
        for (int x = pc * ps; x < (pc + 1) * ps; ++x) {
          const int o = top[static_cast<size_t>(y) * S + x];
          if (cover[static_cast<size_t>(y) * S + x] >= 2) t.overlap[p] = 1.f;
          if (o < 0) continue;
          ++counts[o];
          // 4-neighbours inside the image that show another object: contact.
          const int nb[4][2] = {{x + 1, y}, {x - 1, y}, {x, y + 1}, {x, y - 1}};
          for (const auto& q : nb) {
            if (q[0] < 0 || q[1] < 0 || q[0] >= S || q[1] >= S) continue;
            const int o2 = top[static_cast<size_t>(q[1]) * S + q[0]];
            if (o2 >= 0 && o2 != o) t.contact[p] = 1.f;
          }
        }
      }
      int best = -1;
      for (size_t i = 0; i < n; ++i) {
        if (counts[i] >= 2) {
          const auto& o = scene.objects[i];
          t.colours_present[static_cast<size_t>(p) * spec.n_colours + static_cast<size_t>(o.colour)] = 1.f;
          t.shapes_present[static_cast<size_t>(p) * spec.n_shapes + static_cast<size_t>(o.shape)] = 1.f;
        }
        if (counts[i] >= spec.min_dominant_pixels && (best < 0 || counts[i] > counts[best])) best = static_cast<int>(i);
      }
      if (best < 0) continue;
      t.object[p] = best;
      const auto& o = scene.objects[best];
      t.colour[p] = 1 + static_cast<int64_t>(o.colour);
      t.shape[p] = 1 + static_cast<int64_t>(o.shape);
      t.size[p] = 1 + static_cast<int64_t>(o.size);
      t.cell_x[p] = 1 + grid_cell(o.x, world);
      t.cell_y[p] = 1 + grid_cell(o.y, world);
      t.facing[p] = o.facing == Facing::None ? 0 : static_cast<int64_t>(o.facing);
      t.character[p] = character_class(o.text);
    }
  }
  if (spec.relations) {
    // The same geometry the datasets judge their statements by (relations.h).
    const SceneGeometry geometry(scene, world);
    const auto& table = relation_table();
    t.n_relations = static_cast<int>(table.size());
    const size_t width = table.size() * static_cast<size_t>(spec.n_colours);
    t.relation.assign(static_cast<size_t>(P) * width, 0.f);
    t.relation_known.assign(static_cast<size_t>(P) * width, 0.f);
    // Per object, its row of targets; patches copy their dominant object's row.
    std::vector<std::vector<float>> truth(n, std::vector<float>(width, 0.f)), known = truth;
    for (size_t a = 0; a < n; ++a) {
      for (size_t b = 0; b < n; ++b) {
        if (a == b) continue;
        const size_t c = static_cast<size_t>(scene.objects[b].colour);
        for (size_t r = 0; r < table.size(); ++r) {
          const Truth v = geometry.relation(table[r].relation, a, b);
          if (v == Truth::Ambiguous) continue;
          known[a][r * spec.n_colours + c] = 1.f;
          truth[a][r * spec.n_colours + c] = v == Truth::True ? 1.f : 0.f;
        }
      }
    }
    for (int p = 0; p < P; ++p) {
      const int o = t.object[p];
      if (o < 0) continue;
      std::copy(truth[o].begin(), truth[o].end(), t.relation.begin() + static_cast<ptrdiff_t>(p * width));
      std::copy(known[o].begin(), known[o].end(), t.relation_known.begin() + static_cast<ptrdiff_t>(p * width));
    }
  }
  return t;
}

}  // namespace sightline
