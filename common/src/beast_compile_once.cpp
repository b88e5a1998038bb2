// Boost.Asio and Boost.Beast are compiled once, here, instead of in every translation unit that
// uses them (BOOST_ASIO_SEPARATE_COMPILATION / BOOST_BEAST_SEPARATE_COMPILATION are set for the
// whole project by the stratus_common target).
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>
// Asio's TLS support is not part of asio/impl/src.hpp; with separate compilation it must be
// compiled once too (needs OpenSSL headers; OpenSSL::SSL is linked PUBLIC).
#include <boost/asio/ssl/impl/src.hpp>
