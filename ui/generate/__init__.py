"""The Generate tab: prompt, settings, a batch streamed image by image, Stop and Skip."""
