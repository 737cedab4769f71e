/// Placeholder: the simulator lands here (issue 4).
public enum SimulationModule {}
