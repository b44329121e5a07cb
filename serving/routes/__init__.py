"""HTTP routes, one module per dialect: TF Serving REST, Open Inference Protocol v2, tasks, ops."""
