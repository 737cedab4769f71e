/// Placeholder: the datapath lands here (issue 5).
public enum DatapathModule {}
