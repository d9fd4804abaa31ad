// SPDX-License-Identifier: MIT
// Two-TU link test: links two TUs that both include the single header and calls both.
#include <cstdio>
#include <string>

std::string two_tu_a();
std::string two_tu_b();

int main() {
    const std::string a = two_tu_a();
    const std::string b = two_tu_b();
    std::printf("%s\n%s\n", a.c_str(), b.c_str());
    return a.rfind("a:", 0) == 0 && b.rfind("b:", 0) == 0 ? 0 : 1;
}
