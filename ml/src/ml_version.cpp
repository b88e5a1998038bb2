// Placeholder translation unit so the library exists before its first real source; removed once
// the engine lands.
namespace stratus::ml {
int ml_version() { return 1; }
}  // namespace stratus::ml
