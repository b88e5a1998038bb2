// gradient and gradient_z: the linreg protocol (stratus/ml/linreg_protocol.hpp) as handlers.

#include "stratus/functions/handlers.hpp"

namespace stratus::functions {

namespace {

std::string serve_linreg(std::string_view payload, ml::linreg::PayloadFormat format) {
  try {
    return ml::linreg::serve(payload, format);
  } catch (const ml::ProtocolError& refused) {
    throw InvalidInput(refused.what());
  }
}

}  // namespace

std::string gradient_handler(std::string_view payload) {
  return serve_linreg(payload, ml::linreg::PayloadFormat::Json);
}

std::string gradient_z_handler(std::string_view payload) {
  return serve_linreg(payload, ml::linreg::PayloadFormat::Zlib);
}

}  // namespace stratus::functions
