#pragma once
// Precompiled for the client library and imbench (tools/CMakeLists.txt): Asio, Beast and JSON are
// most of what their translation units parse.

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <nlohmann/json.hpp>
