// Asio and Beast compiled into the bootstrap itself, without Asio's TLS layer.
//
// stratus_common compiles Asio, Beast and Asio's OpenSSL glue in one object
// (common/src/beast_compile_once.cpp). Linking that object would make the bootstrap need
// libssl/libcrypto, which a function zip for provided.al2023 must not rely on. With these
// definitions already in the executable, the linker never pulls that archive member: the runtime
// client needs nothing from it. Should the bootstrap ever need a symbol only that object defines,
// the link fails loudly with duplicate definitions rather than silently depending on OpenSSL.
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>
