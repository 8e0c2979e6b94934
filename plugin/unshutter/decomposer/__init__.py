"""The decomposer: blurred frame + guidance -> K sharp sub-frames."""
