// Where the demo fleet runs: 72 large sites (69 real public-cloud regions with
// their provider region codes, and 3 private data centres) and 100 edge sites in
// real cities. Coordinates are the city's, to about 0.1 degree. The price
// multiplier scales the cloud's list prices for the region (US East = 1.0), as
// providers price the same machine higher in Tokyo, Sao Paulo or Hong Kong.

export interface RegionDef {
  cloud: string;
  /** The provider's region code. */
  region: string;
  city: string;
  country: string;
  latitude: number;
  longitude: number;
  priceMultiplier: number;
  /** The region offers GPU machines. */
  gpu: boolean;
  /** A flagship region: three clusters and more nodes. */
  large: boolean;
}

export interface EdgeDef {
  city: string;
  country: string;
  latitude: number;
  longitude: number;
}

// flags: g = GPU machines, L = large
function r(
  cloud: string,
  region: string,
  city: string,
  country: string,
  latitude: number,
  longitude: number,
  priceMultiplier: number,
  flags = '',
): RegionDef {
  return {
    cloud,
    region,
    city,
    country,
    latitude,
    longitude,
    priceMultiplier,
    gpu: flags.includes('g'),
    large: flags.includes('L'),
  };
}

export const REGIONS: readonly RegionDef[] = [
  r('aws', 'us-east-1', 'Ashburn', 'US', 39.04, -77.49, 1.0, 'gL'),
  r('aws', 'us-east-2', 'Columbus', 'US', 39.96, -83.0, 1.0),
  r('aws', 'us-west-2', 'Boardman', 'US', 45.84, -119.7, 1.0, 'gL'),
  r('aws', 'eu-west-1', 'Dublin', 'IE', 53.35, -6.26, 1.08, 'g'),
  r('aws', 'eu-central-1', 'Frankfurt', 'DE', 50.11, 8.68, 1.15, 'L'),
  r('aws', 'ap-northeast-1', 'Tokyo', 'JP', 35.68, 139.69, 1.26, 'g'),
  r('aws', 'ap-southeast-1', 'Singapore', 'SG', 1.35, 103.82, 1.2),
  r('aws', 'ap-south-1', 'Mumbai', 'IN', 19.08, 72.88, 1.05),
  r('aws', 'sa-east-1', 'Sao Paulo', 'BR', -23.55, -46.63, 1.55),
  r('aws', 'ap-southeast-2', 'Sydney', 'AU', -33.87, 151.21, 1.22),

  r('azure', 'eastus', 'Boydton', 'US', 36.67, -78.39, 1.0, 'gL'),
  r('azure', 'westus2', 'Quincy', 'US', 47.23, -119.85, 1.0),
  r('azure', 'northeurope', 'Dublin', 'IE', 53.35, -6.26, 1.08),
  r('azure', 'westeurope', 'Amsterdam', 'NL', 52.37, 4.9, 1.12, 'gL'),
  r('azure', 'uksouth', 'London', 'GB', 51.51, -0.13, 1.12),
  r('azure', 'southeastasia', 'Singapore', 'SG', 1.35, 103.82, 1.2, 'g'),
  r('azure', 'japaneast', 'Tokyo', 'JP', 35.68, 139.69, 1.26),
  r('azure', 'centralindia', 'Pune', 'IN', 18.52, 73.86, 1.05),

  r('gcp', 'us-central1', 'Council Bluffs', 'US', 41.26, -95.86, 1.0, 'gL'),
  r('gcp', 'us-east4', 'Ashburn', 'US', 39.04, -77.49, 1.13),
  r('gcp', 'europe-west1', 'St. Ghislain', 'BE', 50.45, 3.82, 1.1, 'g'),
  r('gcp', 'europe-west3', 'Frankfurt', 'DE', 50.11, 8.68, 1.2),
  r('gcp', 'asia-east1', 'Changhua', 'TW', 24.07, 120.54, 1.1, 'g'),
  r('gcp', 'asia-northeast1', 'Tokyo', 'JP', 35.68, 139.69, 1.28),
  r('gcp', 'australia-southeast1', 'Sydney', 'AU', -33.87, 151.21, 1.27),
  r('gcp', 'southamerica-east1', 'Osasco', 'BR', -23.53, -46.79, 1.58),

  r('aliyun', 'cn-hangzhou', 'Hangzhou', 'CN', 30.27, 120.15, 1.0, 'gL'),
  r('aliyun', 'cn-shanghai', 'Shanghai', 'CN', 31.23, 121.47, 1.0, 'gL'),
  r('aliyun', 'cn-beijing', 'Beijing', 'CN', 39.9, 116.41, 1.0, 'gL'),
  r('aliyun', 'cn-zhangjiakou', 'Zhangjiakou', 'CN', 40.77, 114.88, 0.92, 'g'),
  r('aliyun', 'cn-shenzhen', 'Shenzhen', 'CN', 22.54, 114.06, 1.0),
  r('aliyun', 'cn-chengdu', 'Chengdu', 'CN', 30.57, 104.07, 0.95),
  r('aliyun', 'cn-hongkong', 'Hong Kong', 'HK', 22.32, 114.17, 1.3),
  r('aliyun', 'ap-southeast-1', 'Singapore', 'SG', 1.35, 103.82, 1.2, 'g'),
  r('aliyun', 'eu-central-1', 'Frankfurt', 'DE', 50.11, 8.68, 1.18),
  r('aliyun', 'us-west-1', 'San Mateo', 'US', 37.56, -122.32, 1.05),

  r('huawei', 'cn-north-4', 'Beijing', 'CN', 39.9, 116.41, 1.0, 'gL'),
  r('huawei', 'cn-east-3', 'Shanghai', 'CN', 31.23, 121.47, 1.0, 'g'),
  r('huawei', 'cn-south-1', 'Guangzhou', 'CN', 23.13, 113.26, 1.0),
  r('huawei', 'cn-southwest-2', 'Guiyang', 'CN', 26.65, 106.63, 0.9, 'g'),
  r('huawei', 'ap-southeast-1', 'Hong Kong', 'HK', 22.32, 114.17, 1.3),
  r('huawei', 'ap-southeast-3', 'Singapore', 'SG', 1.35, 103.82, 1.2),
  r('huawei', 'af-south-1', 'Johannesburg', 'ZA', -26.2, 28.05, 1.3),

  r('tencent', 'ap-guangzhou', 'Guangzhou', 'CN', 23.13, 113.26, 1.0, 'gL'),
  r('tencent', 'ap-shanghai', 'Shanghai', 'CN', 31.23, 121.47, 1.0, 'g'),
  r('tencent', 'ap-beijing', 'Beijing', 'CN', 39.9, 116.41, 1.0, 'g'),
  r('tencent', 'ap-chengdu', 'Chengdu', 'CN', 30.57, 104.07, 0.95),
  r('tencent', 'ap-nanjing', 'Nanjing', 'CN', 32.06, 118.8, 0.97),
  r('tencent', 'ap-singapore', 'Singapore', 'SG', 1.35, 103.82, 1.2),
  r('tencent', 'eu-frankfurt', 'Frankfurt', 'DE', 50.11, 8.68, 1.18),

  r('jdcloud', 'cn-north-1', 'Beijing', 'CN', 39.9, 116.41, 1.0, 'g'),
  r('jdcloud', 'cn-east-1', 'Suqian', 'CN', 33.96, 118.28, 0.92),
  r('jdcloud', 'cn-east-2', 'Shanghai', 'CN', 31.23, 121.47, 1.0),
  r('jdcloud', 'cn-south-1', 'Guangzhou', 'CN', 23.13, 113.26, 1.0),

  r('oracle', 'us-ashburn-1', 'Ashburn', 'US', 39.04, -77.49, 1.0, 'g'),
  r('oracle', 'us-phoenix-1', 'Phoenix', 'US', 33.45, -112.07, 1.0),
  r('oracle', 'uk-london-1', 'London', 'GB', 51.51, -0.13, 1.0),
  r('oracle', 'eu-frankfurt-1', 'Frankfurt', 'DE', 50.11, 8.68, 1.0, 'g'),
  r('oracle', 'ap-tokyo-1', 'Tokyo', 'JP', 35.68, 139.69, 1.0),
  r('oracle', 'ap-mumbai-1', 'Mumbai', 'IN', 19.08, 72.88, 1.0),

  r('ibm', 'us-south', 'Dallas', 'US', 32.78, -96.8, 1.0, 'g'),
  r('ibm', 'us-east', 'Washington', 'US', 38.91, -77.04, 1.0),
  r('ibm', 'eu-de', 'Frankfurt', 'DE', 50.11, 8.68, 1.1, 'g'),
  r('ibm', 'eu-gb', 'London', 'GB', 51.51, -0.13, 1.1),
  r('ibm', 'jp-tok', 'Tokyo', 'JP', 35.68, 139.69, 1.2),

  r('baidu', 'bj', 'Beijing', 'CN', 39.9, 116.41, 1.0, 'g'),
  r('baidu', 'gz', 'Guangzhou', 'CN', 23.13, 113.26, 1.0),
  r('baidu', 'su', 'Suzhou', 'CN', 31.3, 120.59, 1.0, 'g'),
  r('baidu', 'fwh', 'Wuhan', 'CN', 30.59, 114.31, 0.95),

  // Private data centres; their price multiplier reflects local power and space.
  r('openstack', 'dc-beijing', 'Beijing', 'CN', 39.9, 116.41, 1.0, 'gL'),
  r('openstack', 'dc-frankfurt', 'Frankfurt', 'DE', 50.11, 8.68, 1.25),
  r('vmware', 'dc-chicago', 'Chicago', 'US', 41.88, -87.63, 1.1, 'g'),
];

function e(city: string, country: string, latitude: number, longitude: number): EdgeDef {
  return { city, country, latitude, longitude };
}

export const EDGE_CITIES: readonly EdgeDef[] = [
  // China
  e('Shenzhen', 'CN', 22.54, 114.06),
  e('Guangzhou', 'CN', 23.13, 113.26),
  e('Dongguan', 'CN', 23.02, 113.75),
  e('Foshan', 'CN', 23.02, 113.12),
  e('Xiamen', 'CN', 24.48, 118.09),
  e('Fuzhou', 'CN', 26.07, 119.3),
  e('Wuhan', 'CN', 30.59, 114.31),
  e('Changsha', 'CN', 28.23, 112.94),
  e('Nanchang', 'CN', 28.68, 115.86),
  e('Hefei', 'CN', 31.82, 117.23),
  e('Zhengzhou', 'CN', 34.75, 113.63),
  e('Jinan', 'CN', 36.65, 117.12),
  e('Qingdao', 'CN', 36.07, 120.38),
  e('Tianjin', 'CN', 39.34, 117.36),
  e('Shijiazhuang', 'CN', 38.04, 114.51),
  e('Taiyuan', 'CN', 37.87, 112.55),
  e('Hohhot', 'CN', 40.84, 111.75),
  e('Shenyang', 'CN', 41.81, 123.43),
  e('Dalian', 'CN', 38.91, 121.61),
  e('Changchun', 'CN', 43.82, 125.32),
  e('Harbin', 'CN', 45.8, 126.53),
  e("Xi'an", 'CN', 34.34, 108.94),
  e('Lanzhou', 'CN', 36.06, 103.83),
  e('Xining', 'CN', 36.62, 101.78),
  e('Yinchuan', 'CN', 38.49, 106.23),
  e('Urumqi', 'CN', 43.83, 87.62),
  e('Lhasa', 'CN', 29.65, 91.17),
  e('Kunming', 'CN', 24.88, 102.83),
  e('Nanning', 'CN', 22.82, 108.37),
  e('Haikou', 'CN', 20.04, 110.2),
  e('Chongqing', 'CN', 29.56, 106.55),
  e('Suzhou', 'CN', 31.3, 120.59),
  e('Ningbo', 'CN', 29.87, 121.54),
  e('Wuxi', 'CN', 31.49, 120.31),
  e('Wenzhou', 'CN', 28.0, 120.67),
  // Rest of Asia and the Middle East
  e('Taipei', 'TW', 25.03, 121.57),
  e('Seoul', 'KR', 37.57, 126.98),
  e('Busan', 'KR', 35.18, 129.08),
  e('Osaka', 'JP', 34.69, 135.5),
  e('Nagoya', 'JP', 35.18, 136.91),
  e('Fukuoka', 'JP', 33.59, 130.4),
  e('Bangkok', 'TH', 13.76, 100.5),
  e('Ho Chi Minh City', 'VN', 10.82, 106.63),
  e('Hanoi', 'VN', 21.03, 105.85),
  e('Kuala Lumpur', 'MY', 3.14, 101.69),
  e('Jakarta', 'ID', -6.21, 106.85),
  e('Manila', 'PH', 14.6, 120.98),
  e('Delhi', 'IN', 28.7, 77.1),
  e('Bengaluru', 'IN', 12.97, 77.59),
  e('Chennai', 'IN', 13.08, 80.27),
  e('Karachi', 'PK', 24.86, 67.0),
  e('Dhaka', 'BD', 23.81, 90.41),
  e('Dubai', 'AE', 25.2, 55.27),
  e('Riyadh', 'SA', 24.71, 46.68),
  e('Tel Aviv', 'IL', 32.09, 34.78),
  // Europe
  e('Manchester', 'GB', 53.48, -2.24),
  e('Paris', 'FR', 48.86, 2.35),
  e('Marseille', 'FR', 43.3, 5.37),
  e('Madrid', 'ES', 40.42, -3.7),
  e('Barcelona', 'ES', 41.39, 2.17),
  e('Milan', 'IT', 45.46, 9.19),
  e('Rome', 'IT', 41.9, 12.5),
  e('Munich', 'DE', 48.14, 11.58),
  e('Berlin', 'DE', 52.52, 13.4),
  e('Hamburg', 'DE', 53.55, 9.99),
  e('Zurich', 'CH', 47.38, 8.54),
  e('Vienna', 'AT', 48.21, 16.37),
  e('Warsaw', 'PL', 52.23, 21.01),
  e('Prague', 'CZ', 50.08, 14.44),
  e('Stockholm', 'SE', 59.33, 18.07),
  e('Oslo', 'NO', 59.91, 10.75),
  e('Copenhagen', 'DK', 55.68, 12.57),
  e('Helsinki', 'FI', 60.17, 24.94),
  e('Lisbon', 'PT', 38.72, -9.14),
  e('Istanbul', 'TR', 41.01, 28.98),
  // The Americas
  e('New York', 'US', 40.71, -74.01),
  e('Chicago', 'US', 41.88, -87.63),
  e('Los Angeles', 'US', 34.05, -118.24),
  e('Seattle', 'US', 47.61, -122.33),
  e('Miami', 'US', 25.76, -80.19),
  e('Denver', 'US', 39.74, -104.99),
  e('Atlanta', 'US', 33.75, -84.39),
  e('Houston', 'US', 29.76, -95.37),
  e('Toronto', 'CA', 43.65, -79.38),
  e('Vancouver', 'CA', 49.28, -123.12),
  e('Montreal', 'CA', 45.5, -73.57),
  e('Mexico City', 'MX', 19.43, -99.13),
  e('Bogota', 'CO', 4.71, -74.07),
  e('Lima', 'PE', -12.05, -77.04),
  e('Santiago', 'CL', -33.45, -70.67),
  e('Buenos Aires', 'AR', -34.6, -58.38),
  e('Rio de Janeiro', 'BR', -22.91, -43.17),
  // Africa and Oceania
  e('Lagos', 'NG', 6.52, 3.38),
  e('Nairobi', 'KE', -1.29, 36.82),
  e('Cairo', 'EG', 30.04, 31.24),
  e('Cape Town', 'ZA', -33.92, 18.42),
  e('Casablanca', 'MA', 33.57, -7.59),
  e('Melbourne', 'AU', -37.81, 144.96),
  e('Perth', 'AU', -31.95, 115.86),
  e('Auckland', 'NZ', -36.85, 174.76),
];

const CONTINENT_COUNTRIES: Readonly<Record<string, readonly string[]>> = {
  asia: [
    'CN',
    'HK',
    'TW',
    'JP',
    'KR',
    'SG',
    'IN',
    'TH',
    'VN',
    'MY',
    'ID',
    'PH',
    'PK',
    'BD',
    'AE',
    'SA',
    'IL',
    'TR',
  ],
  europe: [
    'IE',
    'DE',
    'NL',
    'GB',
    'BE',
    'FR',
    'ES',
    'IT',
    'CH',
    'AT',
    'PL',
    'CZ',
    'SE',
    'NO',
    'DK',
    'FI',
    'PT',
  ],
  'north-america': ['US', 'CA', 'MX'],
  'south-america': ['BR', 'CO', 'PE', 'CL', 'AR'],
  africa: ['ZA', 'NG', 'KE', 'EG', 'MA'],
  oceania: ['AU', 'NZ'],
};

const continentOf = new Map(
  Object.entries(CONTINENT_COUNTRIES).flatMap(([c, countries]) =>
    countries.map((k) => [k, c] as const),
  ),
);

export function continent(country: string): string {
  const c = continentOf.get(country);
  if (c === undefined) throw new RangeError(`no continent known for country ${country}`);
  return c;
}
