#pragma once
// Precompiled for the actor layer's translation units only (actors/CMakeLists.txt): CAF's headers
// are most of what each of them parses.

#include <caf/all.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
