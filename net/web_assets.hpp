#pragma once
// The web client's files, compiled into the binary by cmake/embed_web.cmake (generated
// web_assets.cpp in the build tree). Paths start with '/': "/index.html", "/app.js".

#include <cstddef>

namespace im::net {

struct WebAsset {
  const char* path;
  const char* content_type;
  const unsigned char* data;
  std::size_t size;
  const char* etag;  // a quoted strong ETag: a hash of the content
};

// kWebAssets[0 .. kWebAssetCount) are the files, sorted by path; a null entry follows them.
extern const WebAsset kWebAssets[];
extern const std::size_t kWebAssetCount;

}  // namespace im::net
