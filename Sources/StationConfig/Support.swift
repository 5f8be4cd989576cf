/// "Did you mean" suggestions for misspelt keys and values.
enum Suggestion {
    /// The candidate closest to `word`, if one is close enough to be a likely misspelling:
    /// the same up to case, `_` and `-` (`stateDir` → `state_dir`); one containing the other
    /// (`timeout` → `timeout_ms`, `vendor` → `usb_vendor`); or a few edits away
    /// (`plattform` → `platform`).
    static func nearest(to word: String, in candidates: [String]) -> String? {
        let target = normalized(word)
        guard !target.isEmpty else { return nil }
        var best: (candidate: String, score: Int)?
        for candidate in candidates {
            let other = normalized(candidate)
            let score: Int
            if other == target {
                score = 0
            } else if target.count >= 3 && (other.hasPrefix(target) || target.hasPrefix(other) || (target.count >= 4 && other.contains(target))) {
                score = 1
            } else {
                let distance = editDistance(Array(word.lowercased()), Array(candidate.lowercased()))
                let allowed = word.count <= 4 ? 1 : (word.count <= 8 ? 2 : 3)
                guard distance <= allowed else { continue }
                score = 1 + distance
            }
            if let current = best, current.score <= score { continue }
            best = (candidate, score)
        }
        return best?.candidate
    }

    private static func normalized(_ word: String) -> String {
        String(word.lowercased().filter { $0 != "_" && $0 != "-" })
    }

    /// Levenshtein distance.
    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = Array(repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}

/// Pure path arithmetic (no file-system access, no symlink resolution).
enum PathResolver {
    /// The directory holding `file`, made absolute against `currentDirectory`.
    static func directory(of file: String, currentDirectory: String) -> String {
        let absolute = resolve(file, against: currentDirectory)
        guard let slash = absolute.lastIndex(of: "/"), slash != absolute.startIndex else { return "/" }
        return String(absolute[..<slash])
    }

    /// `path` if it is absolute, otherwise `path` under `directory`; normalised either way
    /// (`.` and empty components dropped, `..` applied).
    static func resolve(_ path: String, against directory: String) -> String {
        normalize(path.hasPrefix("/") ? path : directory + "/" + path)
    }

    static func normalize(_ path: String) -> String {
        var components: [Substring] = []
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch component {
            case ".": continue
            case "..": _ = components.popLast()
            default: components.append(component)
            }
        }
        return "/" + components.joined(separator: "/")
    }
}
