/// Why a benchmark run stopped.
public enum BenchError: Error, CustomStringConvertible {
    case badURL(String)
    case timedOut(String)

    public var description: String {
        switch self {
        case .badURL(let url): "not a ws://HOST:PORT URL: \(url)"
        case .timedOut(let what): "timed out: \(what)"
        }
    }
}
