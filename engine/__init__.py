"""The pure core of Guichet: load, validate and compile YAML definitions; runtime rules."""
