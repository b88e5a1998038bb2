// The emulator's own endpoints beside the Lambda API: /healthz, /metrics (Prometheus text),
// /stratus/v1/usage, /stratus/v1/environments and the fault-plan admin API /stratus/v1/faults.

#include <nlohmann/json.hpp>

#include "stratus/emulator/faults/fault_injector.hpp"
#include "stratus/emulator/lambda/api_error.hpp"
#include "stratus/emulator/lambda/api_messages.hpp"
#include "stratus/emulator/lambda/lambda_api.hpp"

namespace stratus::emulator {

using nlohmann::json;

bool is_observability_endpoint(Operation op) {
  return op == Operation::Health || op == Operation::Usage || op == Operation::Metrics ||
         op == Operation::Environments || op == Operation::GetFaults || op == Operation::PutFaults ||
         op == Operation::DeleteFaults;
}

HttpResponse LambdaApi::observe(const Route& route, const HttpRequest& request, const std::string& request_id) {
  switch (route.operation) {
    case Operation::Health: return json_response(200, {{"status", "ok"}}, request_id);
    case Operation::Usage: {
      json usage = metering_.usage_json();
      if (faults_) usage["faults"] = faults_->counts_json();
      usage["recursion_stopped"] = recursion_stops_;
      return json_response(200, usage, request_id);
    }
    case Operation::Environments: return json_response(200, scheduler_.environments_json(), request_id);
    case Operation::Metrics: {
      HttpResponse response;
      response.headers.add("Content-Type", "text/plain; version=0.0.4");
      response.headers.add("x-amzn-RequestId", request_id);
      response.body = metering_.prometheus_text();
      response.body += "# HELP stratus_environments Live execution environments\n"
                       "# TYPE stratus_environments gauge\nstratus_environments " +
                       std::to_string(scheduler_.environment_count()) +
                       "\n# HELP stratus_queued_events Async events waiting\n"
                       "# TYPE stratus_queued_events gauge\nstratus_queued_events " +
                       std::to_string(scheduler_.queued_events()) + "\n";
      if (faults_) response.body += faults_->prometheus_text();
      return response;
    }
    default: return faults_admin(route, request, request_id);
  }
}

HttpResponse LambdaApi::faults_admin(const Route& route, const HttpRequest& request, const std::string& request_id) {
  if (!faults_) throw ApiException(LambdaError::Service, "Fault injection is not available in this daemon.");
  if (route.operation == Operation::PutFaults) {
    json body = json::parse(request.body, nullptr, false);
    if (body.is_discarded()) {
      throw ApiException(LambdaError::InvalidRequestContent,
                         "Could not parse request body into json: a fault plan is {\"seed\": N, \"rules\": [...]}");
    }
    try {
      faults_->replace(parse_fault_plan(body));
    } catch (const FaultPlanError& e) {
      throw ApiException(LambdaError::InvalidParameterValue, std::string("Invalid fault plan: ") + e.what());
    }
  } else if (route.operation == Operation::DeleteFaults) {
    faults_->replace(FaultPlan{});
    return empty_response(204, request_id);
  }
  return json_response(200, faults_->state_json(), request_id);
}

}  // namespace stratus::emulator
