"""ALASSO (Park et al., ICCV 2019): an asymmetric quadratic surrogate of the
previous tasks' loss, overestimated on the side the parameter was moving to.

Importance: the path integral omega = sum over steps of -g * dtheta, g the
gradient of the task loss without the ALASSO penalty (as the authors' code;
kept by `Method.path`, the shared base model's by its own task), turned at
the end of a task into a signed importance
    |Omega_new| = max((omega - S'(theta_end)) / (dtheta^2 + xi), |Omega_old|)
    sign(Omega_new) = sign(theta_end - theta_star_old)
with S' the old surrogate under the decoupled (a', eps') parameters.  Penalty
while training the next task: c * sum S(a, eps; Omega, theta_star, theta).
Defaults follow the authors' code; the thesis tunes c to 0.2.
"""

from __future__ import annotations

import torch

from retrieval_bench.studies.incremental.methods.base import Method, pad_rows, paired_parameters


def surrogate(theta, anchor, omega, a: float, eps: float) -> torch.Tensor:
    """Per element S(a, eps; Omega, theta*, theta): |Omega| (theta - theta*)^2 on
    the side the parameter came from, (a |Omega| + eps) (theta - theta*)^2
    beyond it (Omega's sign is the direction it moved in)."""
    d2 = (theta - anchor) ** 2
    beyond = torch.where(omega > 0, theta >= anchor, theta < anchor)
    return torch.where(beyond, a * omega.abs() + eps, omega.abs()) * d2


class ALASSO(Method):
    name = "alasso"
    records_path = True

    @classmethod
    def hyperparameters(cls):
        return {"c": 0.2, "a": 1.8, "eps": 1e-6, "a_prime": 1.0, "eps_prime": 0.0, "c_prime": 1.0, "xi": 0.1}

    def prepare(self, context):
        path = context.previous_path
        if path is None:
            raise ValueError("ALASSO needs the previous task's path integral; retrain the previous task "
                             "with this version of the package")
        old_omega = context.state.get("alasso_omega", {})
        self.omega, self.anchor = {}, {}
        for name, _, theta_end in paired_parameters(context.student, context.teacher):
            start = path["start"][name]
            prev = pad_rows(old_omega.get(name, torch.zeros_like(start)), start.shape)
            estimate = (path["integral"][name] - self.c_prime * surrogate(
                theta_end, start, prev, self.a_prime, self.eps_prime)) / ((theta_end - start) ** 2 + self.xi)
            magnitude = torch.maximum(estimate, prev.abs())
            sign = torch.where(theta_end < start, -1.0, 1.0)
            self.omega[name] = sign * magnitude  # >= 0 magnitude: |Omega_old| >= 0 bounds it below
            self.anchor[name] = theta_end
        self.pairs = [(n, p, self.anchor[n], self.omega[n]) for n, p, _ in
                      paired_parameters(context.student, context.teacher)]

    def penalty(self) -> torch.Tensor:
        return self.c * sum(surrogate(p, anchor, omega, self.a, self.eps).sum() for _, p, anchor, omega in self.pairs)

    def extra_terms(self, context, images, labels, embeddings, logits):
        return {"alasso": self.penalty()}

    def task_gradients(self, context):
        """The total gradient minus the penalty's own: the path integral of
        this task must not count the old surrogate a second time."""
        gradients = super().task_gradients(context)
        params = dict(context.student.named_parameters())
        names = [n for n, *_ in self.pairs]
        with torch.enable_grad():
            own = torch.autograd.grad(self.penalty(), [params[n] for n in names], allow_unused=True)
        for n, g in zip(names, own):
            if g is not None and gradients.get(n) is not None:
                gradients[n] = gradients[n] - g
        return gradients

    def finish(self, context):
        return {**context.state, "alasso_omega": self.omega}

