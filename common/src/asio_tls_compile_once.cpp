// Asio's TLS support is not part of asio/impl/src.hpp; with separate compilation it must be
// compiled once too. Kept apart from beast_compile_once.cpp so the static library member holding it
// is linked only into programs that use TLS (the HTTP client).
#include <boost/asio/ssl/impl/src.hpp>
