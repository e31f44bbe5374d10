"""Images: backbones and their weights, archives, image datasets and manifests,
synthetic images, the decoded-image cache, loading and embedding."""
