// imbench: load generator. Scenarios arrive with the benchmark issue; this placeholder only
// reports that.

#include <iostream>

int main() {
  std::cerr << "imbench: no scenarios yet\n";
  return 2;
}
