import NostrCore
import NostrTools

extension Configuration {
    /// Applies a TOML file: `[section]` tables whose keys are the settings' keys.
    mutating func apply(tomlFile path: String) throws(ConfigurationError) {
        guard let bytes = LocalFile.read(path), let text = String(validating: bytes, as: UTF8.self) else {
            throw .file(path, "no such file or not readable")
        }
        let entries: [TOMLReader.Entry]
        do { entries = try TOMLReader.read(text) } catch { throw .file(path, error.description) }
        for entry in entries {
            try set("\(entry.section).\(entry.key)", entry.value.text)
        }
    }
}
