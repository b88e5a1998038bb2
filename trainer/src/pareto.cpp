#include "stratus/trainer/pareto.hpp"

namespace stratus::trainer {

std::vector<bool> pareto_front(const std::vector<TimeCost>& points) {
  std::vector<bool> on_front(points.size(), true);
  for (std::size_t i = 0; i < points.size(); ++i) {
    for (std::size_t j = 0; j < points.size() && on_front[i]; ++j) {
      const TimeCost& a = points[j];
      const TimeCost& b = points[i];
      if (a.time <= b.time && a.cost <= b.cost && (a.time < b.time || a.cost < b.cost))
        on_front[i] = false;
    }
  }
  return on_front;
}

}  // namespace stratus::trainer
