"""Datasets: readers (-> samples), pure transforms, and the tf.data pipeline."""
