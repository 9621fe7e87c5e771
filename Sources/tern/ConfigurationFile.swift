import TOMLKit

#if canImport(Glibc)
    import Glibc
#endif

extension Configuration {
    /// Applies a TOML file: `[section]` tables whose keys are the settings' keys.
    mutating func apply(tomlFile path: String) throws(ConfigurationError) {
        guard let text = Self.readFile(path) else { throw .file(path, "no such file or not readable") }
        let table: TOMLTable
        do { table = try TOMLTable(string: text) } catch { throw .file(path, "\(error)") }
        for section in table.keys {
            guard let sub = table[section]?.table else {
                throw .file(path, "\(section) must be a [\(section)] table")
            }
            for key in sub.keys {
                let name = "\(section).\(key)"
                guard let value = sub[key] else { continue }
                let text: String
                if let s = value.string {
                    text = s
                } else if let b = value.bool {
                    text = b ? "true" : "false"
                } else if let i = value.int {
                    text = String(i)
                } else {
                    throw .invalid(name, value.debugDescription, "a string, integer or boolean")
                }
                try set(name, text)
            }
        }
    }

    static func readFile(_ path: String) -> String? {
        guard let f = fopen(path, "rb") else { return nil }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&chunk, 1, chunk.count, f)
            if n <= 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return String(validating: bytes, as: UTF8.self)
    }
}
