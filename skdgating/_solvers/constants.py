"""The solver's tuned constants, in one place, each with the reason for its value.

"Tuned" marks a value chosen by measurement; unless said otherwise, it was measured
on ``bench_linear.py``'s 2000 x 500 problem (groups of 4) and re-checked on its
wide shape (n=200, p=10,000). The others follow from an argument.
"""

# --- read-out of exact zeros -------------------------------------------------------
# D>=3: a group whose norm is below SUPPORT_THRESHOLD times the largest group norm
# seen in the solve (start included) is zero. Zero is absorbing there, and the
# gated iterates of a dying group shrink geometrically, so any threshold far below
# the scale of the live groups and above rounding (1e-16) reads out the same
# support; 1e-7 leaves nine orders of margin on each side.
SUPPORT_THRESHOLD = 1e-7
# D=2: a group below KKT_READOUT_THRESHOLD times the largest norm is set to zero,
# and then verified by the group-lasso KKT test (so a wrong read-out only costs an
# outer iteration). The gated factors approach zero like sqrt(||w_j||), slowly;
# 1e-4 reads them out once they are clearly dying. Tuned.
KKT_READOUT_THRESHOLD = 1e-4
# D=2: a tiny group whose gradient says it should grow (stuck near the gated
# saddle at 0) is restarted from zero at most this often, so the loop terminates.
MAX_RESTARTS = 3

# --- D>=3 start --------------------------------------------------------------------
# The dense start is a ridge fit by conjugate gradients (gated.ridge_start), each
# iteration a pass over X and one over X'; stopped at a relative residual of
# RIDGE_START_RTOL, after RIDGE_START_ITERATIONS at most. The D>=3 objective is
# non-convex, so the start picks the local minimum: at 1e-6 the fits of
# bench_linear.py's wide and square shapes (least squares and logistic) end where
# the exact ridge start led, while 1e-3 or 1e-4 led the wide logistic fit to
# another minimum (11 groups, objective 0.6% higher). Tuned: 1e-6 takes 39
# iterations on the square shape (5000 x 5000), under the exact solve's cost.
RIDGE_START_ITERATIONS = 100
RIDGE_START_RTOL = 1e-6

# --- working sets (D=2) ------------------------------------------------------------
# A working set holds WS_GROWTH times the current support, filled with the worst
# KKT violators (gated driver) or the groups whose constraint a feasible dual point
# is closest to (BCD driver), at least MIN_WORKING_SET groups, as celer and skglm do. 4 (tuned on
# the 2000 x 500 problem) overshot on wide data: a set twice the final support,
# too large for Newton, cost most of the fit. Tuned.
WS_GROWTH = 2
MIN_WORKING_SET = 10
# Zero groups with ||G_j|| >= (1 - NEAR) alpha c_j join the working set early
# (within its size): groups on the edge of the condition tend to become violators
# once the others move. Tuned.
NEAR = 0.03
# L-BFGS-only subproblems (multinomial): early working sets are solved to COARSE
# times the outer optimality violation (their support is provisional). Tuned.
COARSE = 0.1
# A subproblem that took no step while a small live group still failed the KKT
# test is re-solved at STALL_TIGHTEN times its tolerance: at a balanced point the
# gated gradient of a group is its KKT residual times sqrt(||w_j||), so 1e-2 asks
# for what a group 1e4 times smaller needs.
STALL_TIGHTEN = 1e-2

# --- subproblem minimization -------------------------------------------------------
# The gated gradient is driven to GTOL_FACTOR times the outer tolerance, since the
# outer test (KKT for D=2) scales it by up to 1/sqrt(||w_j||). Tuned.
GTOL_FACTOR = 1e-2
# L-BFGS steps per round before Newton is tried (to reach the basin), and rounds
# of L-BFGS + Newton at most. Tuned.
LBFGS_WARMUP = 10
MAX_ROUNDS = 30
# Beyond this many variables a dense Hessian (O(m^2) memory, O(m^3) per
# factorization) costs more than the L-BFGS steps it saves. Tuned.
MAX_NEWTON_SIZE = 1500
# After a full Newton step the previous factorization is kept (a chord step) while
# it cuts the gradient by this factor: the rate at which reusing it still beats a
# new Hessian and factorization. Tuned.
CHORD_CONTRACTION = 0.25
# D=2 balanced Newton (the gates eliminated): attempts per Newton run in the
# factors; it gives up when PROGRESS_STEPS steps did not cut the gradient 10x (not
# its quadratic region); a group whose step passes within COLLAPSE times its norm
# of zero (the kink of the group norm) is set to zero where zero is optimal. Tuned.
POLISH_TRIES = 3
PROGRESS_STEPS = 5
COLLAPSE = 0.1

# --- D=2 block coordinate descent (single-output datafits; :mod:`.bcd`) --------------
# Anderson extrapolation from the last ANDERSON_MEMORY BCD epochs, as skglm and celer
# (both use 5): more memory fits the early, non-linear epochs badly.
ANDERSON_MEMORY = 5
# Gram form (an m x m Hessian, O(m |g|) per group update) when n_samples exceeds
# GRAM_ROWS_PER_COLUMN times the working set's columns, residual form (O(n |g|) per
# update, no m x m matrix) otherwise. Building the Gram matrix costs O(n m^2), about
# m/2 residual-form epochs, and least squares caches it along a fit and a path; with
# n > 2m an update is also cheaper in it. Set by that argument, not tuned (square
# 5000 x 5000 at alpha_max/50 reaches m = 2730: residual form; toeplitz 2000 x 500,
# m <= 450: Gram form).
GRAM_ROWS_PER_COLUMN = 2
# A working set's model is solved to INNER_TOL_FRACTION times the current violation
# (celer uses 0.3 of the duality gap): an inexact model solve costs an outer step less
# than a tight one on a provisional working set.
INNER_TOL_FRACTION = 0.3
# Gram form, non-quadratic datafit: a proximal Newton step reuses the Hessian of the
# previous one (a chord step) when that step cut the KKT violation to HESSIAN_REUSE
# times its value; building it (X'DX, O(n m^2), sparse products for sparse X) is the
# expensive part. Tuned on the sparse one-hot logistic problem at alpha_max/50 (0.25
# kept almost no Hessian, as each model is only solved to INNER_TOL_FRACTION).
HESSIAN_REUSE = 0.6
# A model solve that needs MAX_EPOCHS BCD passes is stalling, and the gated
# working-set solver (Newton in the factors, which conditioning does not slow the
# same way) finishes the fit from where BCD left it; the objective is convex, so the
# solution is the same. Measured: the panel's model solves (bench_linear.py,
# toeplitz, wide and square, least squares and logistic, alpha_max/10 and /50) take
# at most 27 passes, except wide least squares at alpha_max/50 (p >> n, its last
# working set solved to the final tolerance at once: 403); a hypothesis case (n=3,
# p=60, column scales 0.5 to 2e5, alpha=1e-3) took 20,000 passes per model (45 s)
# under the earlier cap. MAX_PROX_NEWTON
# caps the proximal Newton steps per working set (the outer loop's test decides).
MAX_EPOCHS = 1_000
MAX_PROX_NEWTON = 50

# --- memory (least squares) ---------------------------------------------------------
# Dense X is centred implicitly (no copy) unless a column's mean exceeds
# CENTRING_RATIO times its standard deviation: the implicit products then cancel
# log10(ratio) digits, and at 1e4 the 1e-16 rounding stays below 1e-12 of the
# gradient, far under any tolerance the solver is asked for.
CENTRING_RATIO = 1e4
# The Gram cache (working-set columns and their Gram matrix, kept along a fit and a
# path) may hold CACHE_FRACTION times X's own stored entries, at least
# MIN_CACHE_ENTRIES (16 MB; small data never has to evict). 1.0: with dense X the
# cache can grow to one centred copy of the columns it needs (what centring into a
# copy used to cost up front), so a fit's extra memory stays a small multiple of X
# (tests/test_linear_memory.py), and the cache still holds every working set of the
# panel's paths (bench_linear.py) without evicting.
CACHE_FRACTION = 1.0
MIN_CACHE_ENTRIES = 2**21
# Dense products that need centred columns (their squared norms) take BLOCK_ENTRIES
# entries at a time (2 MB), so no n x p temporary is built.
BLOCK_ENTRIES = 2**18
# A working set of at least TAKE_VIEW_FRACTION of X's columns is read through X
# (a product with all of X, zero outside the set) instead of copied: the copy
# would be at least half of X (D>=3 starts with every group), and reading through
# X costs at most 1/TAKE_VIEW_FRACTION = 2 times the flops of the copy's products.
TAKE_VIEW_FRACTION = 0.5
# ... unless the copy is smaller than VIEW_MIN_ENTRIES (16 MB): a small copy is
# faster to work on (D=2 logistic, toeplitz 2000 x 500 at alpha_max/50, working
# sets of 96% of the columns: 1.13x the time through the view).
VIEW_MIN_ENTRIES = 2**21
