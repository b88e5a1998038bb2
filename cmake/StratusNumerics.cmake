# One fixed instruction-set level for every numeric kernel (DESIGN.md "Neural-network engine").
#
# Eigen picks its packet width and whether to fuse multiply-adds from the compiler's target flags,
# and that fixes the order and rounding of every sum. Compiling all numeric code, the static
# `bootstrap` included, for x86-64-v3 (AVX2 + FMA, which this machine and AWS Lambda's x86 hosts
# support) makes a model's bytes the same on any machine of that level, whichever binary ran it.
# ISO C++ mode (CMAKE_CXX_EXTENSIONS OFF) keeps -ffp-contract=off for scalar code, so only Eigen's
# explicit FMA packets fuse.
set(STRATUS_NUMERIC_ARCH "x86-64-v3" CACHE STRING "Instruction-set level for numeric code (-march=)")
add_library(stratus_numeric_flags INTERFACE)
target_compile_options(stratus_numeric_flags INTERFACE -march=${STRATUS_NUMERIC_ARCH} -mtune=generic)
# Eigen must never spawn threads of its own: one function = one vCPU, and the in-process backend
# parallelises over workers instead.
target_compile_definitions(stratus_numeric_flags INTERFACE EIGEN_DONT_PARALLELIZE)
