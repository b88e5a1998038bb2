// Boost.Asio and Boost.Beast are compiled once, here, instead of in every translation unit that
// uses them (BOOST_ASIO_SEPARATE_COMPILATION / BOOST_BEAST_SEPARATE_COMPILATION are set for the
// whole project by the stratus_common target). Asio's TLS layer lives in asio_tls_compile_once.cpp,
// a separate object, so programs that never use TLS (the function bootstrap) do not pull OpenSSL in.
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>
