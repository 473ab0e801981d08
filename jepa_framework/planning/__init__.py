"""Planning toward goals with an action-conditioned world model: planners search action
sequences whose latent rollout ends nearest the goal's latent, and a closed loop scores them in
the environment (``jepa plan``, plan.json)."""
