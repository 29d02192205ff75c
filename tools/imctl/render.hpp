// imctl's human output: aligned tables in the style of redis-cli and ejabberdctl.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

namespace imctl {

using Row = std::vector<std::string>;

// Columns padded to their widest cell; cells that are numbers are right-aligned.
void print_table(std::ostream& out, const Row& header, const std::vector<Row>& rows);

std::string human_bytes(uint64_t bytes);     // "1.2 MiB"
std::string human_duration(int64_t seconds);  // "1d 02h", "3h 04m", "5m 06s", "7s"
// A JSON value as a cell: strings bare, null as "-".
std::string cell(const nlohmann::json& value);

void print_status(std::ostream& out, const nlohmann::json& status);
void print_connections(std::ostream& out, const nlohmann::json& answer, int64_t now_ms);
void print_user(std::ostream& out, const nlohmann::json& user);
void print_group(std::ostream& out, const nlohmann::json& group);

}  // namespace imctl
