"""Motion guidance: from optical flow on neighbouring frames, or from the user."""
