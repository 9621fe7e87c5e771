import NostrCore
import TOMLKit

extension Configuration {
    /// Applies a TOML file: `[section]` tables whose keys are the settings' keys.
    mutating func apply(tomlFile path: String) throws(ConfigurationError) {
        guard let bytes = LocalFile.read(path), let text = String(validating: bytes, as: UTF8.self) else {
            throw .file(path, "no such file or not readable")
        }
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
}
