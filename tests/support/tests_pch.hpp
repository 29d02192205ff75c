#pragma once
// Precompiled once for im_test_support and reused by every integration test (tests/CMakeLists.txt).

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "support/test_server.hpp"
