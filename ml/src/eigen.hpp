#pragma once
// The one way ml/ includes Eigen. Include it before anything else that could include Eigen.
//
// - Eigen's namespace is renamed to stratus_ml_eigen here. Eigen's kernels are templates and
//   inline functions, emitted as weak symbols in every object that uses them; another target
//   compiled without x86-64-v3 (or with other options) could emit the very same symbol names, and
//   the linker would keep one arbitrary copy for both. With the rename, ml's kernels (and Eigen's
//   global cache-size settings that fix the GEMM blocking) are ml's own, whatever else the
//   program links.
// - Products always take Eigen's blocked GEMM/GEMV path (no coefficient-based "lazy" product for
//   small shapes, whose scalar/packet split would depend on the destination's alignment).
// - EIGEN_DONT_PARALLELIZE comes from stratus_numeric_flags: one thread, fixed reduction order.
#ifdef EIGEN_WORLD_VERSION
#error "ml/src/eigen.hpp must be the first Eigen include of the translation unit"
#endif
#ifndef EIGEN_DONT_PARALLELIZE
#error "ml/ must be compiled with stratus_numeric_flags (EIGEN_DONT_PARALLELIZE)"
#endif
#define EIGEN_GEMM_TO_COEFFBASED_THRESHOLD 0
#define Eigen stratus_ml_eigen
#include <Eigen/Core>
