# One fixed instruction-set level for every numeric kernel (DESIGN.md "Neural-network engine").
#
# Eigen picks its packet width and whether to fuse multiply-adds from the compiler's target flags,
# and that fixes the order and rounding of every sum. Compiling all numeric code, the static
# `bootstrap` included, for x86-64-v3 (AVX2 + FMA, which this machine and AWS Lambda's x86 hosts
# support) makes a model's bytes the same on any machine of that level, whichever binary ran it.
# -ffp-contract=off: GCC fuses a*b+c into an FMA in C++ even in ISO mode (only its C front end
# turns contraction off there), so scalar loops would round differently with another compiler or
# version; with it off only Eigen's explicit FMA packets fuse. -fno-math-errno only stops
# sqrt from setting errno (which keeps GCC from vectorising it); results are unchanged.
set(STRATUS_NUMERIC_ARCH "x86-64-v3" CACHE STRING "Instruction-set level for numeric code (-march=)")
add_library(stratus_numeric_flags INTERFACE)
target_compile_options(stratus_numeric_flags INTERFACE -march=${STRATUS_NUMERIC_ARCH} -mtune=generic
                       -ffp-contract=off -fno-math-errno)
# Eigen must never spawn threads of its own: one function = one vCPU, and the in-process backend
# parallelises over workers instead.
target_compile_definitions(stratus_numeric_flags INTERFACE EIGEN_DONT_PARALLELIZE)
