import Foundation

/// p50 and p99 of `samples`, in milliseconds with two decimals.
func percentiles(_ samples: [Duration]) -> (p50: String, p99: String, max: String) {
  let sorted = samples.sorted()
  guard !sorted.isEmpty else { return ("-", "-", "-") }
  func ms(_ d: Duration) -> String {
    let value = Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
    return String(format: "%.2f ms", value)
  }
  return (
    ms(sorted[sorted.count / 2]), ms(sorted[min(sorted.count - 1, sorted.count * 99 / 100)]),
    ms(sorted[sorted.count - 1])
  )
}

extension Duration {
  var seconds: Double {
    Double(components.seconds) + Double(components.attoseconds) / 1e18
  }
}
