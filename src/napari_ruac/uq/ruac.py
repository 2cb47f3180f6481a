"""``ruac`` (analytic, one pass) and ``ruac-mc`` (Monte Carlo) uncertainty from the Weibull head."""

from __future__ import annotations

from .base import HeadMethod, MethodOptions, register_method


class RUACAnalytic(HeadMethod):
    name = "ruac"
    description = "RUAC Bayesian decoder, analytic variance + MacKay probit (one pass)"

    def apply(self, model, selected, options: MethodOptions):
        params = model.weibull(selected)
        return model.head.analytic(params, simplified=options.simplified_variance, mean_logit=selected.logit)


class RUACMonteCarlo(HeadMethod):
    name = "ruac-mc"
    description = "RUAC Bayesian decoder, entropy of the mean over Weibull samples (default 20)"
    default_samples = 20

    def apply(self, model, selected, options: MethodOptions):
        params = model.weibull(selected)
        generator = options.generator(params.upscaled.device)
        return model.head.monte_carlo(params, options.samples(self.default_samples), generator)


register_method(RUACAnalytic())
register_method(RUACMonteCarlo())
