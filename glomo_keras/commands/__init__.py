"""Sub-commands of the `glomo-keras` command line, one module each."""
