// SPDX-License-Identifier: MIT
// A main for builds without libFuzzer: runs a fuzz target over every file of the given directories.
//
// Usage: <replay> DIR_OR_FILE...   Files are run in name order; names starting with '.' (such as
// .gitkeep) are skipped. A crash or failed invariant aborts, which fails the test.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

bool read_file(const std::filesystem::path& path, std::vector<std::uint8_t>& out) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return !in.bad();
}

} // namespace

int main(int argc, char** argv) {
    namespace fs = std::filesystem;
    std::vector<fs::path> inputs;
    for (int i = 1; i < argc; ++i) {
        const fs::path arg(argv[i]);
        std::error_code ec;
        if (fs::is_directory(arg, ec)) {
            for (const auto& entry : fs::directory_iterator(arg, ec)) {
                const std::string name = entry.path().filename().string();
                if (entry.is_regular_file() && !name.empty() && name[0] != '.') inputs.push_back(entry.path());
            }
            if (ec) {
                std::fprintf(stderr, "cannot list %s: %s\n", argv[i], ec.message().c_str());
                return 1;
            }
        } else if (fs::is_regular_file(arg, ec)) {
            inputs.push_back(arg);
        } else {
            std::fprintf(stderr, "no such file or directory: %s\n", argv[i]);
            return 1;
        }
    }
    std::sort(inputs.begin(), inputs.end());

    std::vector<std::uint8_t> data;
    for (const fs::path& path : inputs) {
        if (!read_file(path, data)) {
            std::fprintf(stderr, "cannot read %s\n", path.string().c_str());
            return 1;
        }
        std::fprintf(stderr, "replaying %s (%zu bytes)\n", path.string().c_str(), data.size());
        // A heap copy of exactly the input's size (never null), as libFuzzer passes it, so that
        // a read past its end is a sanitizer error.
        auto exact = std::make_unique<std::uint8_t[]>(std::max<std::size_t>(data.size(), 1));
        std::copy(data.begin(), data.end(), exact.get());
        LLVMFuzzerTestOneInput(exact.get(), data.size());
    }
    std::printf("%zu inputs replayed\n", inputs.size());
    return 0;
}
