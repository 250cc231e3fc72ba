package dp_test

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/discret-io/discret/privacy/dp"
)

// The tables below are DP-ALS.md section C5 (tables C5.1–C5.4) and B10
// (worked examples), copied as printed (strings, so that the printed
// precision is known), each next to an independent high-precision reference
// computed by testdata/reference.py (mpmath, 60 digits; see that file).
// A value must match the printed one to half a unit of its last digit or
// 1e-6 relative, and the reference to 1e-9 relative.

// checkDoc reports whether got matches the design note's printed value.
func checkDoc(t *testing.T, name string, got float64, printed string) {
	t.Helper()
	v, err := strconv.ParseFloat(printed, 64)
	if err != nil {
		t.Fatalf("%s: bad printed value %q", name, printed)
	}
	tol := 1e-6 * math.Abs(v)
	if i := strings.IndexByte(printed, '.'); i >= 0 {
		tol = math.Max(tol, 0.5*math.Pow(10, -float64(len(printed)-i-1))*(1+1e-9))
	} else {
		tol = math.Max(tol, 0.5)
	}
	if math.Abs(got-v) > tol {
		t.Errorf("%s = %.12g, want %s (printed, ±%.2g)", name, got, printed, tol)
	}
}

// checkRef reports whether got matches a high-precision reference to rel.
func checkRef(t *testing.T, name string, got, want, rel float64) {
	t.Helper()
	if math.Abs(got-want) > rel*math.Abs(want) {
		t.Errorf("%s = %.15g, want %.15g (reference, rel %.0g; off by %.2g)", name, got, want, rel, math.Abs(got-want)/math.Abs(want))
	}
}

// Table C5.1: ε after T Gaussian releases with noise multiplier z.
var tableC51 = []struct {
	delta, z float64
	T        int
	// As printed in DP-ALS.md C5.1.
	simple, dpam, dpamAlpha, fine, fineAlpha, cont, exact string
	// testdata/reference.py.
	refSimple, refDPAM, refFine, refFineAlpha, refCont, refContAlpha, refExact float64
}{
	{1e-5, 0.5, 1, "11.597052", "10.725510", "3.3", "10.724824", "3.272", "10.724824", "9.997256", 11.5970518244, 10.7255096964, 10.7248242433, 3.272, 10.7248241129, 3.2723785, 9.99725614643},
	{1e-5, 0.5, 10, "50.348543", "48.801693", "1.7", "48.754524", "1.74", "48.754522", "46.211210", 50.3485425877, 48.8016928249, 48.7545237828, 1.74, 48.7545222834, 1.7402333, 46.2112101912},
	{1e-5, 0.5, 20, "82.919321", "81.116308", "1.5", "81.059063", "1.527", "81.059047", "77.330091", 82.9193205258, 81.1163084251, 81.059063277, 1.527, 81.0590472091, 1.5265434, 77.3300905792},
	{1e-5, 1, 1, "5.298526", "4.728507", "5.4", "4.728387", "5.432", "4.728387", "4.377178", 5.29852591219, 4.72850706722, 4.7283869876, 5.432, 4.72838698494, 5.4318497, 4.37717809568},
	{1e-5, 1, 10, "20.174271", "19.053598", "2.5", "19.047260", "2.457", "19.047260", "17.856587", 20.1742712939, 19.0535975316, 19.0472595534, 2.457, 19.0472595523, 2.4569826, 17.8565868301},
	{1e-5, 1, 20, "31.459660", "30.126631", "2", "30.110858", "2.039", "30.110857", "28.373474", 31.4596602629, 30.1266311039, 30.1108579052, 2.039, 30.1108573038, 2.0392471, 28.3734738033},
	{1e-5, 2, 1, "2.524263", "2.165716", "9.6", "2.165716", "9.603", "2.165716", "1.993091", 2.52426295609, 2.16571565903, 2.16571554626, 9.603, 2.16571554518, 9.6027334, 1.99309140442},
	{1e-5, 2, 10, "8.837136", "8.079406", "3.9", "8.078360", "3.852", "8.078360", "7.511276", 8.83713564693, 8.07940622242, 8.07835962539, 3.852, 8.07835954814, 3.8515876, 7.51127590074},
	{1e-5, 2, 20, "13.229830", "12.301691", "3", "12.299655", "3.04", "12.299655", "11.480023", 13.2298301314, 12.30169148, 12.2996550128, 3.04, 12.2996549147, 3.0397215, 11.4800228092},
	{1e-5, 5, 1, "0.979705", "0.794522", "22", "0.794315", "21.55", "0.794315", "0.725522", 0.979705182438, 0.794522032537, 0.794314774275, 21.546, 0.794314774274, 21.545969, 0.725521750858},
	{1e-5, 5, 10, "3.234854", "2.813653", "7.9", "2.813632", "7.874", "2.813632", "2.594383", 3.23485425877, 2.81365324713, 2.81363219313, 7.874, 2.81363218933, 7.8736468, 2.59438338053},
	{1e-5, 5, 20, "4.691932", "4.161624", "5.9", "4.161534", "5.933", "4.161533", "3.848610", 4.69193205258, 4.16162430605, 4.16153350722, 5.933, 4.16153349743, 5.9326597, 3.84861028254},
	{1e-5, 10, 1, "0.484853", "0.375291", "41", "0.375261", "40.52", "0.375261", "0.340669", 0.484852591219, 0.375291222366, 0.37526123571, 40.525, 0.375261235699, 40.52471, 0.340669364684},
	{1e-5, 10, 10, "1.567427", "1.308497", "14", "1.308118", "14.31", "1.308118", "1.199370", 1.56742712939, 1.30849726903, 1.30811834302, 14.306, 1.30811834291, 14.305832, 1.19936957375},
	{1e-5, 10, 20, "2.245966", "1.914250", "10.6", "1.914239", "10.57", "1.914239", "1.760057", 2.24596602629, 1.91424987484, 1.91423883251, 10.568, 1.914238832, 10.568215, 1.76005714951},
	{1e-6, 0.5, 1, "12.513044", "11.688627", "3.5", "11.688596", "3.506", "11.688596", "10.997151", 12.5130435395, 11.6886267992, 11.6885962565, 3.506, 11.6885962494, 3.5060934, 10.9971512142},
	{1e-6, 0.5, 10, "53.245163", "51.723725", "1.8", "51.719404", "1.813", "51.719404", "49.319277", 53.2451627254, 51.7237246501, 51.7194044931, 1.813, 51.719404463, 1.8130347, 49.3192766607},
	{1e-6, 0.5, 20, "87.015760", "85.261682", "1.6", "85.228727", "1.578", "85.228726", "81.715233", 87.0157600095, 85.2616822949, 85.2287266917, 1.578, 85.2287261788, 1.5779145, 81.7152333705},
	{1e-6, 1, 1, "5.756522", "5.221540", "5.9", "5.221534", "5.907", "5.221534", "4.886554", 5.75652176976, 5.22153963115, 5.22153444454, 5.907, 5.22153444453, 5.9070094, 4.88655411746},
	{1e-6, 1, 10, "21.622581", "20.551992", "2.6", "20.551949", "2.604", "20.551949", "19.423656", 21.6225813627, 20.5519916298, 20.5519491876, 2.604, 20.551948814, 2.6036579, 19.423656474},
	{1e-6, 1, 20, "33.507880", "32.238439", "2.1", "32.221663", "2.143", "32.221661", "30.578882", 33.5078800048, 32.2384393926, 32.2216630029, 2.143, 32.2216609491, 2.1425204, 30.5788823237},
	{1e-6, 2, 1, "2.753261", "2.419102", "10.6", "2.419093", "10.57", "2.419093", "2.254085", 2.75326088488, 2.41910248869, 2.41909317758, 10.574, 2.41909317687, 10.57377, 2.25408465022},
	{1e-6, 2, 10, "9.561291", "8.846874", "4.1", "8.845889", "4.149", "8.845889", "8.306225", 9.56129068135, 8.84687435851, 8.84588939074, 4.149, 8.84588934846, 4.1486785, 8.30622504995},
	{1e-6, 2, 20, "14.253940", "13.376379", "3.2", "13.373652", "3.248", "13.373652", "12.595247", 14.2539400024, 13.3763791634, 13.3736523708, 3.248, 13.3736522528, 3.2483213, 12.5952467355},
	{1e-6, 5, 1, "1.071304", "0.899939", "24", "0.899935", "24.06", "0.899935", "0.834118", 1.07130435395, 0.899938504173, 0.899935267756, 24.06, 0.899935267661, 24.059676, 0.834117548624},
	{1e-6, 5, 10, "3.524516", "3.131090", "8.6", "3.131056", "8.635", "3.131056", "2.921601", 3.52451627254, 3.13108977492, 3.1310556837, 8.635, 3.13105568076, 8.6353287, 2.92160059043},
	{1e-6, 5, 20, "5.101576", "4.604529", "6.5", "4.604440", "6.466", "4.604440", "4.305841", 5.10157600095, 4.60452925735, 4.60444006292, 6.466, 4.60444004944, 6.4655782, 4.3058411101},
	{1e-6, 10, 1, "0.530652", "0.429952", "46", "0.429941", "45.71", "0.429941", "0.396857", 0.530652176976, 0.429951519092, 0.429941468849, 45.706, 0.429941468837, 45.706317, 0.396857377644},
	{1e-6, 10, 10, "1.712258", "1.471656", "16", "1.471595", "15.87", "1.471595", "1.367571", 1.71225813627, 1.47165626791, 1.47159475055, 15.867, 1.47159475053, 15.866926, 1.36757147508},
	{1e-6, 10, 20, "2.450788", "2.143044", "12", "2.141939", "11.66", "2.141939", "1.994527", 2.45078800048, 2.14304352375, 2.14193892848, 11.658, 2.14193892839, 11.6581, 1.9945269007},
}

func TestTableC51(t *testing.T) {
	dpam, fine := dp.DPAMOrders(), dp.FineOrders()
	for _, tt := range tableC51 {
		rho := float64(tt.T) / (2 * tt.z * tt.z)
		name := func(col string) string {
			return col + "(z=" + strconv.FormatFloat(tt.z, 'g', -1, 64) + ", T=" + strconv.Itoa(tt.T) + ", δ=" + strconv.FormatFloat(tt.delta, 'g', -1, 64) + ")"
		}
		if got := dp.RhoForMultiplier(tt.z) * float64(tt.T); math.Abs(got-rho) > 1e-15*rho {
			t.Errorf("%s = %v, want %v", name("ρ"), got, rho)
		}

		got := dp.EpsilonZCDP(rho, tt.delta)
		checkDoc(t, name("EpsilonZCDP"), got, tt.simple)
		checkRef(t, name("EpsilonZCDP"), got, tt.refSimple, 1e-9)

		got, alpha, err := dp.EpsilonRDPOrders(rho, tt.delta, dpam)
		if err != nil {
			t.Fatal(err)
		}
		checkDoc(t, name("EpsilonRDPOrders(dpam)"), got, tt.dpam)
		checkRef(t, name("EpsilonRDPOrders(dpam)"), got, tt.refDPAM, 1e-9)
		checkDoc(t, name("EpsilonRDPOrders(dpam) α"), alpha, tt.dpamAlpha)

		got, alpha, err = dp.EpsilonRDPOrders(rho, tt.delta, fine)
		if err != nil {
			t.Fatal(err)
		}
		checkDoc(t, name("EpsilonRDPOrders(fine)"), got, tt.fine)
		checkRef(t, name("EpsilonRDPOrders(fine)"), got, tt.refFine, 1e-9)
		checkRef(t, name("EpsilonRDPOrders(fine) α"), alpha, tt.refFineAlpha, 1e-9)
		checkDoc(t, name("EpsilonRDPOrders(fine) α"), alpha, tt.fineAlpha)

		got, alpha = dp.EpsilonRDP(rho, tt.delta)
		checkDoc(t, name("EpsilonRDP"), got, tt.cont)
		checkRef(t, name("EpsilonRDP"), got, tt.refCont, 1e-9)
		checkRef(t, name("EpsilonRDP α"), alpha, tt.refContAlpha, 1e-4) // the optimum is flat in α

		mu := math.Sqrt(float64(tt.T)) / tt.z
		got = dp.EpsilonGaussian(mu, tt.delta)
		checkDoc(t, name("EpsilonGaussian"), got, tt.exact)
		checkRef(t, name("EpsilonGaussian"), got, tt.refExact, 1e-9)

		// The same through Epsilon and the statement.
		st, err := dp.NewStatement(rho, tt.delta)
		if err != nil {
			t.Fatal(err)
		}
		checkRef(t, name("Statement.Epsilon"), st.Epsilon, tt.refCont, 1e-9)
		checkRef(t, name("Statement.EpsilonSimple"), st.EpsilonSimple, tt.refSimple, 1e-9)
		checkRef(t, name("Statement.EpsilonGaussian"), st.EpsilonGaussian, tt.refExact, 1e-9)
		checkRef(t, name("Statement.Mu"), st.Mu, mu, 1e-15)
		for c, want := range map[dp.Conversion]float64{dp.RDP: tt.refCont, dp.Simple: tt.refSimple, dp.ExactGaussian: tt.refExact} {
			got, err := dp.Epsilon(rho, tt.delta, c)
			if err != nil {
				t.Fatal(err)
			}
			checkRef(t, name("Epsilon("+c.String()+")"), got, want, 1e-9)
		}
	}
}

// Table C5.2: σ (Δ = 1) for (ε, δ) with one release. An empty classical
// entry is printed "(invalid)": the formula needs ε < 1.
var tableC52 = []struct {
	delta, eps                                   float64
	analytic, rdp, simple, classical             string
	refAnalytic, refRDP, refSimple, refClassical float64
}{
	{1e-5, 0.5, "7.031827", "7.667156", "9.700143", "9.689611", 7.03182667558, 7.66715594673, 9.70014308716, 9.68961052521},
	{1e-5, 1, "3.730632", "4.045130", "4.900555", "", 3.73063163482, 4.04513035829, 4.90055516863, 4.84480526261},
	{1e-5, 2, "1.993812", "2.149108", "2.499291", "", 1.99381244564, 2.14910821534, 2.49929131167, 2.4224026313},
	{1e-5, 5, "0.891868", "0.952620", "1.054534", "", 0.891868264952, 0.952619915033, 1.05453381529, 0.968961052521},
	{1e-6, 0.5, "8.057618", "8.676631", "10.607318", "10.597605", 8.05761848073, 8.6766307836, 10.6073180765, 10.5976050537},
	{1e-6, 1, "4.224679", "4.530877", "5.349980", "", 4.22467888933, 4.53087711704, 5.34998006198, 5.29880252685},
	{1e-6, 2, "2.230476", "2.381591", "2.720167", "", 2.23047627119, 2.38159122479, 2.7201670066, 2.64940126343},
	{1e-6, 5, "0.980049", "1.039116", "1.139093", "", 0.980049000309, 1.03911599133, 1.1390934628, 1.05976050537},
}

func TestTableC52(t *testing.T) {
	for _, tt := range tableC52 {
		name := func(f string) string {
			return f + "(ε=" + strconv.FormatFloat(tt.eps, 'g', -1, 64) + ", δ=" + strconv.FormatFloat(tt.delta, 'g', -1, 64) + ")"
		}
		got, err := dp.GaussianSigmaTight(tt.eps, tt.delta, 1)
		if err != nil {
			t.Fatal(err)
		}
		checkDoc(t, name("GaussianSigmaTight"), got, tt.analytic)
		checkRef(t, name("GaussianSigmaTight"), got, tt.refAnalytic, 1e-9)
		if d := dp.DeltaGaussian(1/got, tt.eps); d > tt.delta {
			t.Errorf("%s: δ at the returned σ = %v > %v", name("GaussianSigmaTight"), d, tt.delta)
		}
		// Google's 1e-3 upper bracket: above the tight value, by at most 0.1 %.
		g, err := dp.GaussianSigma(tt.eps, tt.delta, 1)
		if err != nil {
			t.Fatal(err)
		}
		if g < got || g > got*(1+1e-3) {
			t.Errorf("%s = %v, want in [%v, %v]", name("GaussianSigma"), g, got, got*(1+1e-3))
		}

		for _, c := range []struct {
			conv      dp.Conversion
			doc       string
			ref       float64
			rhoFormat string
		}{{dp.RDP, tt.rdp, tt.refRDP, "rdp"}, {dp.Simple, tt.simple, tt.refSimple, "simple"}} {
			z, err := dp.NoiseMultiplier(tt.eps, tt.delta, 1, c.conv)
			if err != nil {
				t.Fatal(err)
			}
			checkDoc(t, name("NoiseMultiplier("+c.conv.String()+")"), z, c.doc)
			checkRef(t, name("NoiseMultiplier("+c.conv.String()+")"), z, c.ref, 1e-9)
		}

		got, err = dp.ClassicalGaussianSigma(tt.eps, tt.delta, 1)
		if tt.classical == "" {
			if !errors.Is(err, dp.ErrParam) {
				t.Errorf("%s = %v, %v; want ErrParam", name("ClassicalGaussianSigma"), got, err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		checkDoc(t, name("ClassicalGaussianSigma"), got, tt.classical)
		checkRef(t, name("ClassicalGaussianSigma"), got, tt.refClassical, 1e-9)
	}
}

// Table C5.3: largest ρ for (ε, δ) under each conversion (and μ = √(2ρ) for
// the exact Gaussian curve). Empty strings: not printed in the note; the
// reference still applies.
var tableC53 = []struct {
	delta, eps                         float64
	rdp, simple, gauss, gaussMu        string
	refRDP, refSimple, refGauss, refMu float64
}{
	{1e-5, 0.5, "0.00850553", "0.0053139", "0.0101119", "0.142211", 0.00850553059118, 0.00531390423077, 0.0101119214985, 0.142210558669},
	{1e-5, 1, "0.0305566", "0.0208199", "0.0359257", "0.268051", 0.0305565951976, 0.0208199383395, 0.0359257023274, 0.268051123211},
	{1e-5, 2, "0.108256", "0.0800454", "0.125777", "0.501552", 0.108256363823, 0.0800453753467, 0.125777048454, 0.50155168917},
	{1e-5, 5, "0.550973", "0.449623", "0.628592", "1.12124", 0.550973474939, 0.449623480428, 0.62859161374, 1.12124182382},
	{1e-5, 10, "1.7827", "1.55036", "2.00089", "2.00045", 1.78269561633, 1.55035522858, 2.00089134015, 2.00044562043},
	{1e-5, 20, "5.39204", "4.93092", "5.94361", "3.44778", 5.39203804374, 4.93091887533, 5.94360534825, 3.44778344687},
	{8e-6, 0.5, "0.00828294", "", "", "", 0.00828294359728, 0.00521495403134, 0.00981969289612, 0.14014059295},
	{8e-6, 1, "0.029828", "", "", "", 0.0298280266386, 0.0204399343773, 0.0349835371473, 0.264512900053},
	{8e-6, 2, "0.105934", "", "", "", 0.105933609241, 0.0786385504132, 0.122821823824, 0.495624502672},
	{8e-6, 5, "0.541063", "", "", "", 0.541063226174, 0.44246368295, 0.616293630796, 1.11021946551},
	{8e-6, 10, "1.75581", "", "", "", 1.75580550957, 1.5286876167, 1.96824591742, 1.9840594333},
	{8e-6, 20, "5.32679", "", "", "", 5.32679409216, 4.87386365245, 5.86622712237, 3.42526703262},
	{1e-6, 0.5, "0.00664152", "0.00444384", "", "", 0.00664152435666, 0.0044438441591, 0.00770116811359, 0.124106149031},
	{1e-6, 1, "0.024356", "0.0174689", "", "", 0.0243559703595, 0.0174689047691, 0.0280144819126, 0.236704380663},
	{1e-6, 2, "0.0881527", "0.0675739", "", "", 0.0881526883799, 0.0675738816731, 0.100502019723, 0.448334740395},
	{1e-6, 5, "0.463065", "0.385346", "", "", 0.463064990139, 0.385346381661, 0.520564351764, 1.02035714509},
	{1e-6, 10, "1.53928", "1.35301", "", "", 1.53927876387, 1.35301469017, 1.707796325, 1.84813220577},
	{1e-6, 20, "4.78937", "4.40239", "", "", 4.78937305956, 4.40239434447, 5.23377492235, 3.23535930689},
}

func TestTableC53(t *testing.T) {
	for _, tt := range tableC53 {
		name := func(f string) string {
			return f + "(ε=" + strconv.FormatFloat(tt.eps, 'g', -1, 64) + ", δ=" + strconv.FormatFloat(tt.delta, 'g', -1, 64) + ")"
		}
		for _, c := range []struct {
			conv dp.Conversion
			doc  string
			ref  float64
		}{{dp.RDP, tt.rdp, tt.refRDP}, {dp.Simple, tt.simple, tt.refSimple}, {dp.ExactGaussian, tt.gauss, tt.refGauss}} {
			rho, err := dp.RhoForEpsilon(tt.eps, tt.delta, c.conv)
			if err != nil {
				t.Fatal(err)
			}
			n := name("RhoForEpsilon(" + c.conv.String() + ")")
			if c.doc != "" {
				checkDoc(t, n, rho, c.doc)
			}
			checkRef(t, n, rho, c.ref, 1e-9)
			// ρ is the largest allowed: its ε is within the target.
			if e, _ := dp.Epsilon(rho, tt.delta, c.conv); e > tt.eps*(1+1e-12) {
				t.Errorf("%s: ε(ρ) = %v > %v", n, e, tt.eps)
			}
			if c.conv == dp.ExactGaussian {
				mu := math.Sqrt(2 * rho)
				if tt.gaussMu != "" {
					checkDoc(t, n+" μ", mu, tt.gaussMu)
				}
				checkRef(t, n+" μ", mu, tt.refMu, 1e-9)
			}
		}
	}
}

// Table C5.4: cross-checks against values published by Google's
// differential-privacy libraries.
func TestTableC54(t *testing.T) {
	// δ of one Gaussian release (Go noise/gaussian_noise_test.go,
	// TestDeltaForGaussian and the thresholding tests), to 1e-9 relative.
	deltas := []struct {
		sigma, sens, eps float64
		published        float64
		ref              float64 // testdata/reference.py
	}{
		{10, 1, 0.1, 0.008751768145810, 0.0087517681458095939789},
		{10, 5, math.Log(3), 0.004159742234000802, 0.0041597422340007867567},
		{0.5, 1, 0, 0.6826894921370859, 0.68268949213708589717},
		{1, 1, math.Log(3), 0.10985556344445052, 0.10985556344445049479},
		{1, math.Sqrt2, math.Log(3), 0.26546844106038714, 0.26546844106038711081},
	}
	for _, tt := range deltas {
		got := dp.DeltaGaussian(tt.sens/tt.sigma, tt.eps)
		name := "DeltaGaussian(σ=" + strconv.FormatFloat(tt.sigma, 'g', -1, 64) + ", Δ=" + strconv.FormatFloat(tt.sens, 'g', 6, 64) + ", ε=" + strconv.FormatFloat(tt.eps, 'g', 6, 64) + ")"
		checkRef(t, name, got, tt.published, 1e-9)
		checkRef(t, name, got, tt.ref, 1e-12)
	}

	// TestGaussianStatistics: Google's binary search returns the upper
	// bracket σ = 3.42578125, variance 11.73597717285 (printed), for
	// ε = ln 3, δ = 1e-5, Δ = 1; the tight σ is 3.424662.
	sigma, err := dp.GaussianSigma(math.Log(3), 1e-5, 1)
	if err != nil {
		t.Fatal(err)
	}
	if sigma != 3.42578125 {
		t.Errorf("GaussianSigma(ln 3, 1e-5, 1) = %v, want 3.42578125", sigma)
	}
	checkDoc(t, "GaussianSigma(ln 3, 1e-5, 1)²", sigma*sigma, "11.73597717285")
	tight, _ := dp.GaussianSigmaTight(math.Log(3), 1e-5, 1)
	checkDoc(t, "GaussianSigmaTight(ln 3, 1e-5, 1)", tight, "3.424662")
	checkDoc(t, "GaussianSigmaTight(ln 3, 1e-5, 1)²", tight*tight, "11.72831")
	checkRef(t, "GaussianSigmaTight(ln 3, 1e-5, 1)", tight, 3.42466239790895, 1e-9)

	// dp_accounting rdp_privacy_accountant_test.py,
	// test_compute_epsilon_delta_gaussian: noise multiplier 4.530877117
	// gives (1, 1e-6) with orders 1.000, 1.001, …, 99.999.
	orders := make([]float64, 0, 99000)
	for i := range 99000 {
		orders = append(orders, 1+float64(i)/1000)
	}
	z := 4.530877117
	eps, alpha, err := dp.EpsilonRDPOrders(1/(2*z*z), 1e-6, orders)
	if err != nil {
		t.Fatal(err)
	}
	checkDoc(t, "EpsilonRDPOrders(z=4.530877117, δ=1e-6)", eps, "1.0000000003")
	checkRef(t, "EpsilonRDPOrders(z=4.530877117, δ=1e-6)", eps, 1.00000000026812, 1e-9)
	if alpha != orders[20985] {
		t.Errorf("EpsilonRDPOrders(z=4.530877117) α = %v, want 21.985", alpha)
	}
	z, err = dp.NoiseMultiplier(1, 1e-6, 1, dp.RDP)
	if err != nil {
		t.Fatal(err)
	}
	checkDoc(t, "NoiseMultiplier(1, 1e-6, 1)", z, "4.530877")
	checkRef(t, "NoiseMultiplier(1, 1e-6, 1)", z, 4.53087711703644, 1e-9)

	// test_compute_epsilon_delta_pure_dp: constant RDP 1.1 on orders
	// 2…32 at δ = 1e-5 gives ε = 1.32783806176 at α = 32.
	var ords, rdp []float64
	for a := 2; a <= 32; a++ {
		ords = append(ords, float64(a))
		rdp = append(rdp, 1.1)
	}
	eps, alpha, err = dp.EpsilonFromRDP(ords, rdp, 1e-5)
	if err != nil {
		t.Fatal(err)
	}
	checkRef(t, "EpsilonFromRDP(1.1, 2…32, 1e-5)", eps, 1.32783806176, 1e-9)
	checkRef(t, "EpsilonFromRDP(1.1, 2…32, 1e-5)", eps, 1.32783806175544, 1e-12)
	if alpha != 32 {
		t.Errorf("EpsilonFromRDP(1.1, 2…32, 1e-5) α = %v, want 32", alpha)
	}
}

// B10 worked examples: noise multipliers of the reference settings.
func TestCalibrateB10(t *testing.T) {
	tests := []struct {
		name                string
		cfg                 dp.CalibrationConfig
		rhoTot              string  // printed
		zc                  string  // printed (input for the ML-20M rows)
		zg, zs              string  // printed
		refRho              float64 // testdata/reference.py
		refZc, refZG, refZS float64
	}{
		{"ML-20M ε=1", dp.CalibrationConfig{Epsilon: 1, Delta: 8e-6, Steps: 3, Beta: 100, CountMultiplier: 20, Gravity: true},
			"0.029828", "20", "102.7135", "10.2714", 0.0298280266386, 20, 102.713502759, 10.2713502759},
		{"ML-20M ε=5", dp.CalibrationConfig{Epsilon: 5, Delta: 8e-6, Steps: 4, Beta: 100, CountMultiplier: 4, Gravity: true},
			"0.541063", "4", "28.0807", "2.8081", 0.541063226174, 4, 28.0806707526, 2.80806707526},
		{"ML-20M ε=20", dp.CalibrationConfig{Epsilon: 20, Delta: 8e-6, Steps: 5, Beta: 100, CountMultiplier: 1, Gravity: true},
			"5.326794", "1", "10.2033", "1.0203", 5.32679409216, 1, 10.2032527942, 1.02032527942},
		{"ML-1M ε=1", dp.CalibrationConfig{Epsilon: 1, Delta: 1e-5, Steps: 5, Beta: 100, CountShare: 0.05, Gravity: true},
			"0.030557", "18.0904", "131.5691", "13.1569", 0.0305565951976, 18.090372918, 131.569053367, 13.1569053367},
		{"ML-1M ε=5", dp.CalibrationConfig{Epsilon: 5, Delta: 1e-5, Steps: 5, Beta: 100, CountShare: 0.05, Gravity: true},
			"0.550973", "4.2602", "30.9842", "3.0984", 0.550973474939, 4.26024577347, 30.9842426171, 3.09842426171},
		{"ML-1M ε=10", dp.CalibrationConfig{Epsilon: 10, Delta: 1e-5, Steps: 5, Beta: 100, CountShare: 0.05, Gravity: true},
			"1.782696", "2.3684", "17.2253", "1.7225", 1.78269561633, 2.36843462588, 17.2253332256, 1.72253332256},
		{"ML-1M ε=20", dp.CalibrationConfig{Epsilon: 20, Delta: 1e-5, Steps: 5, Beta: 100, CountShare: 0.05, Gravity: true},
			"5.392038", "1.3618", "9.9044", "0.9904", 5.39203804374, 1.3618319725, 9.90443614839, 0.990443614839},
		// With the reference's Rényi order grid and with the exact Gaussian
		// curve (B10, note below the table).
		{"ML-20M ε=1 dpam grid", dp.CalibrationConfig{Epsilon: 1, Delta: 8e-6, Steps: 3, Beta: 100, CountMultiplier: 20, Gravity: true, Orders: dp.DPAMOrders()},
			"", "20", "102.7216", "", 0.0298235156108, 20, 102.721610357, 10.2721610357},
		{"ML-20M ε=5 dpam grid", dp.CalibrationConfig{Epsilon: 5, Delta: 8e-6, Steps: 4, Beta: 100, CountMultiplier: 4, Gravity: true, Orders: dp.DPAMOrders()},
			"", "4", "28.0808", "", 0.541058908954, 4, 28.0807896503, 2.80807896503},
		{"ML-20M ε=20 dpam grid", dp.CalibrationConfig{Epsilon: 20, Delta: 8e-6, Steps: 5, Beta: 100, CountMultiplier: 1, Gravity: true, Orders: dp.DPAMOrders()},
			"", "1", "10.2045", "", 5.32559369705, 1, 10.2045217751, 1.02045217751},
		{"ML-20M ε=1 exact Gaussian", dp.CalibrationConfig{Epsilon: 1, Delta: 8e-6, Steps: 3, Beta: 100, CountMultiplier: 20, Gravity: true, Conversion: dp.ExactGaussian},
			"", "20", "94.54", "", 0.0349835371473, 20, 94.5393729342, 9.45393729342},
		{"ML-20M ε=5 exact Gaussian", dp.CalibrationConfig{Epsilon: 5, Delta: 8e-6, Steps: 4, Beta: 100, CountMultiplier: 4, Gravity: true, Conversion: dp.ExactGaussian},
			"", "4", "26.21", "", 0.616293630796, 4, 26.2131310491, 2.62131310491},
		{"ML-20M ε=20 exact Gaussian", dp.CalibrationConfig{Epsilon: 20, Delta: 8e-6, Steps: 5, Beta: 100, CountMultiplier: 1, Gravity: true, Conversion: dp.ExactGaussian},
			"", "1", "9.68", "", 5.86622712237, 1, 9.67683883493, 0.967683883493},
	}
	for _, tt := range tests {
		c, err := dp.Calibrate(tt.cfg)
		if err != nil {
			t.Fatalf("Calibrate(%s): %v", tt.name, err)
		}
		n := "Calibrate(" + tt.name + ")."
		if tt.rhoTot != "" {
			checkDoc(t, n+"RhoTotal", c.RhoTotal, tt.rhoTot)
		}
		checkRef(t, n+"RhoTotal", c.RhoTotal, tt.refRho, 1e-9)
		checkDoc(t, n+"ZCounts", c.ZCounts, tt.zc)
		checkRef(t, n+"ZCounts", c.ZCounts, tt.refZc, 1e-9)
		checkDoc(t, n+"ZG", c.ZG, tt.zg)
		checkRef(t, n+"ZG", c.ZG, tt.refZG, 1e-9)
		if tt.zs != "" {
			checkDoc(t, n+"ZS", c.ZS, tt.zs)
			checkDoc(t, n+"ZT", c.ZT, tt.zs)
		}
		checkRef(t, n+"ZS", c.ZS, tt.refZS, 1e-9)
		checkRef(t, n+"ZT", c.ZT, tt.refZS, 1e-9)
		// s0 = s1 = s2: z_S·√β = z_G.
		checkRef(t, n+"ZS·√β", c.ZS*math.Sqrt(tt.cfg.Beta), c.ZG, 1e-12)
		// Step 6: the realized ρ spends the budget and ε meets the target.
		checkRef(t, n+"RhoTrain", c.RhoTrain, c.RhoTotal, 1e-12)
		if c.Epsilon > tt.cfg.Epsilon+1e-9 || c.Epsilon < tt.cfg.Epsilon*(1-1e-9) {
			t.Errorf("%sEpsilon = %v, want ≈ %v and not above", n, c.Epsilon, tt.cfg.Epsilon)
		}
		checkRef(t, n+"RhoStep", c.RhoStep, (c.RhoTotal-c.RhoCounts)/float64(tt.cfg.Steps), 1e-12)
		checkRef(t, n+"Ledger", c.Ledger.Rho(), c.RhoCounts+float64(tt.cfg.Steps)*(c.RhoG+c.RhoS+c.RhoT), 1e-12)
	}
}
