"""Interrogate a picture into a recipe; refine a prompt toward a target round by round."""
