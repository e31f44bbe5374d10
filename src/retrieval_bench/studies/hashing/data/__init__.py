"""The hashing study's data: vector sets (features, labels, a fixed query set where the data set has one)."""
