import NostrTools

#if !FUZZING
    import NostrCore

    #if canImport(Glibc)
        import Glibc
    #endif

    /// Without libFuzzer: runs every file given (or in the directories given) through the fuzz
    /// target, so the seed corpus and past crashes are replayed as a regression test.
    @main
    struct Replay {
        static func main() {
            var count = 0
            for path in CommandLine.arguments.dropFirst() {
                for file in files(path) {
                    guard let bytes = LocalFile.read(file) else { continue }
                    bytes.withUnsafeBufferPointer { FuzzTarget.run($0) }
                    count += 1
                }
            }
            print("replayed \(count) inputs")
        }

        static func files(_ path: String) -> [String] {
            guard let dir = opendir(path) else { return [path] }
            defer { closedir(dir) }
            var out: [String] = []
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
                }
                if name != "." && name != ".." { out.append(path + "/" + name) }
            }
            return out.sorted()
        }
    }
#endif
